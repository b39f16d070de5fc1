import type { ServedCampaign } from './catalog.js'
import { ACTIVITY_TTL_MS, type ActivityItem } from './device.js'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

/** Per-campaign impression counts of one device over the cap windows, and what it has already seen. */
export type ActivitySummary = {
  lastHour: ReadonlyMap<number, number>
  lastDay: ReadonlyMap<number, number>
  retained: ReadonlyMap<number, number>
  seen: ReadonlySet<number>
  clicked: ReadonlySet<number>
}

/**
 * Counts impressions per campaign in the rolling windows the caps use: `ipu` the last hour, `dipu` the last
 * 24 hours, `tipu` everything still retained (activity is kept about two days).
 */
export function summarizeActivity(items: readonly ActivityItem[], now: number): ActivitySummary {
  const lastHour = new Map<number, number>()
  const lastDay = new Map<number, number>()
  const retained = new Map<number, number>()
  const seen = new Set<number>()
  const clicked = new Set<number>()
  const add = (m: Map<number, number>, id: number) => m.set(id, (m.get(id) ?? 0) + 1)
  const retainedSince = now - ACTIVITY_TTL_MS
  for (const item of items) {
    if (item.at < retainedSince) continue
    if (item.type === 'click') {
      clicked.add(item.campaign_id)
      continue
    }
    seen.add(item.campaign_id)
    add(retained, item.campaign_id)
    if (item.at > now - DAY_MS) add(lastDay, item.campaign_id)
    if (item.at > now - HOUR_MS) add(lastHour, item.campaign_id)
  }
  return { lastHour, lastDay, retained, seen, clicked }
}

/**
 * v1 sends 9999 for "no cap" (docs/architecture.md §W3.2), and 0 or unset means none too: a cap is 1 to 9998.
 * Only a real cap needs the device's activity, its lock across processes, and the device read in time.
 */
const NO_CAP = 9999

/** The cap a value sets, or null for none (unset, 0 or less, or v1's 9999 and above). */
export function capOf(value: number | null): number | null {
  return value === null || value <= 0 || value >= NO_CAP ? null : value
}

/** Whether the campaign has a per-device cap at all (and so needs the device's activity). */
export function hasCaps(c: ServedCampaign): boolean {
  return capOf(c.ipu) !== null || capOf(c.dipu) !== null || capOf(c.tipu) !== null
}

/** A cap of N allows N impressions: the campaign is allocated while the count is below it. */
export function withinCaps(c: ServedCampaign, activity: ActivitySummary): boolean {
  const below = (value: number | null, counts: ReadonlyMap<number, number>) => {
    const cap = capOf(value)
    return cap === null || (counts.get(c.id) ?? 0) < cap
  }
  return (
    below(c.ipu, activity.lastHour) && below(c.dipu, activity.lastDay) && below(c.tipu, activity.retained)
  )
}

/** Delivered so far (impressions or clicks, per the campaign's budget_type): total and this UTC day. */
export type Delivery = { total: number; today: number }

/** Even pacing may run ahead of the clock by this share of the daily budget (at least one unit). */
const PACING_SLACK_SHARE = 0.02

/** Whether a campaign with a budget may still be delivered at `now`. */
export function withinBudget(c: ServedCampaign, delivered: Delivery, now: number): boolean {
  if (c.budget_total !== null && delivered.total >= c.budget_total) return false
  if (c.budget_daily === null) return true
  if (delivered.today >= c.budget_daily) return false
  if (c.budget_pacing !== 'even') return true
  return delivered.today < pacedAllowance(c.budget_daily, now)
}

/** Even pacing: the even-pacing line of the UTC day so far, plus a small slack. */
export function pacedAllowance(daily: number, now: number): number {
  return evenPacingLine(daily, (now % DAY_MS) / DAY_MS) + Math.max(1, Math.ceil(daily * PACING_SLACK_SHARE))
}

/** What even pacing would have delivered once `elapsedShare` (0–1) of a day has passed. */
export function evenPacingLine(daily: number, elapsedShare: number): number {
  return daily * Math.min(1, Math.max(0, elapsedShare))
}
