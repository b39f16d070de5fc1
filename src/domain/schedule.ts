import type { ServedCampaign } from './catalog.js'

const HOUR_MS = 3_600_000
const QUARTER_MS = 900_000
const WEEKDAYS: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 }
const formatters = new Map<string, Intl.DateTimeFormat>()

/** The wall clock of an instant in a timezone. */
export type LocalTime = { year: number; weekday: number; hour: number }

/** Reads the wall clock in `timezone` (IANA name); throws RangeError for an unknown zone. */
function localTime(timezone: string, at: number): LocalTime {
  let format = formatters.get(timezone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      year: 'numeric',
      weekday: 'short',
      hour: 'numeric',
      hourCycle: 'h23',
    })
    formatters.set(timezone, format)
  }
  let year = 0
  let weekday = 0
  let hour = 0
  for (const part of format.formatToParts(at)) {
    if (part.type === 'year') year = Number(part.value)
    else if (part.type === 'weekday') weekday = WEEKDAYS[part.value] ?? 0
    else if (part.type === 'hour') hour = Number(part.value)
  }
  return { year, weekday, hour }
}

/** True if `timezone` is an IANA zone this runtime knows. */
export function isValidTimezone(timezone: string): boolean {
  try {
    localTime(timezone, 0)
    return true
  } catch {
    return false
  }
}

/** One wall-clock hour ahead of now: its weekly slot (weekday × 24 + hour) and its local hour. */
export type UpcomingSlot = { slot: number; hour: number }

/**
 * The wall-clock hours of the next `hours` real hours, starting with the current one. Stepping in real
 * (UTC) hours keeps this right across DST changes: a skipped local hour never appears, a repeated one
 * appears twice.
 */
export function upcomingSlots(timezone: string, now: number, hours = 12): readonly UpcomingSlot[] {
  // Quarter-hour steps keep zones with :30 and :45 offsets right (their hours start mid-UTC-hour).
  const start = Math.floor(now / QUARTER_MS) * QUARTER_MS
  // The answer changes at most every quarter hour per zone; Intl formatting is the costly part of allocation.
  const key = `${timezone}|${start}|${hours}`
  const cached = slotCache.get(key)
  if (cached) return cached
  const slots: UpcomingSlot[] = []
  for (let i = 0; i < hours; i++) {
    const t = localTime(timezone, start + i * HOUR_MS)
    slots.push({ slot: t.weekday * 24 + t.hour, hour: t.hour })
  }
  if (slotCache.size > 1000) slotCache.clear()
  slotCache.set(key, Object.freeze(slots))
  return slots
}
const slotCache = new Map<string, readonly UpcomingSlot[]>()

/** The calendar year in `timezone` at `at`, memoised per zone and quarter hour. */
export function localYear(timezone: string, at: number): number {
  const key = `${timezone}|${Math.floor(at / QUARTER_MS)}`
  let year = yearCache.get(key)
  if (year === undefined) {
    if (yearCache.size > 1000) yearCache.clear()
    year = localTime(timezone, at).year
    yearCache.set(key, year)
  }
  return year
}
const yearCache = new Map<string, number>()

const dateFormatters = new Map<string, Intl.DateTimeFormat>()
const dateCache = new Map<string, string>()

/**
 * The calendar date in `timezone` at `at`, as ISO `yyyy-mm-dd` (the day of delivery reports), memoised per
 * zone and quarter hour: every zone's midnight falls on a quarter hour.
 */
export function localDate(timezone: string, at: number): string {
  const key = `${timezone}|${Math.floor(at / QUARTER_MS)}`
  let date = dateCache.get(key)
  if (date === undefined) {
    let format = dateFormatters.get(timezone)
    if (!format) {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
      })
      dateFormatters.set(timezone, format)
    }
    const parts: Record<string, string> = {}
    for (const part of format.formatToParts(at)) parts[part.type] = part.value
    date = `${parts.year}-${parts.month}-${parts.day}`
    if (dateCache.size > 1000) dateCache.clear()
    dateCache.set(key, date)
  }
  return date
}

const clockFormatters = new Map<string, Intl.DateTimeFormat>()

/** How much of the local calendar day in `timezone` has passed at `at`, 0 (midnight) to 1. */
export function localDayShare(timezone: string, at: number): number {
  let format = clockFormatters.get(timezone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      hourCycle: 'h23',
    })
    clockFormatters.set(timezone, format)
  }
  let seconds = (at % 1000) / 1000
  for (const part of format.formatToParts(at)) {
    if (part.type === 'hour') seconds += Number(part.value) * 3600
    else if (part.type === 'minute') seconds += Number(part.value) * 60
    else if (part.type === 'second') seconds += Number(part.value)
  }
  return seconds / 86_400
}

/** Whether the campaign is switched on and inside its [start_date, end_date) window. */
export function isLive(campaign: ServedCampaign, now: number): boolean {
  return campaign.status === 'active' && campaign.start_date <= now && now < campaign.end_date
}

/** Per timezone: its minute formatter, and the last UTC minute asked and that minute's local minute. */
const minuteFormatters = new Map<string, { format: Intl.DateTimeFormat; utcMinute: number; local: number }>()

/**
 * The instant the local hour containing `at` began in `timezone` (half-hour zones included). Every zone's
 * offset is a whole number of minutes, so the local minute depends on the UTC minute only: it is formatted
 * once per zone and minute (formatting cost more than the rest of an event's time arithmetic).
 */
export function localHourStart(timezone: string, at: number): number {
  let zone = minuteFormatters.get(timezone)
  if (!zone) {
    const format = new Intl.DateTimeFormat('en-US', { timeZone: timezone, minute: 'numeric' })
    zone = { format, utcMinute: Number.NaN, local: 0 }
    minuteFormatters.set(timezone, zone)
  }
  const utcMinute = Math.floor(at / 60_000)
  if (utcMinute !== zone.utcMinute) {
    zone.local = Number(zone.format.formatToParts(at).find((p) => p.type === 'minute')?.value ?? 0)
    zone.utcMinute = utcMinute
  }
  return utcMinute * 60_000 - zone.local * 60_000
}
