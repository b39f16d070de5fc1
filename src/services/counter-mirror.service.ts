import { utcDay } from '../domain/counter-keys.js'
import type { Logger } from './logger.js'

/** The delivery counters' store of record (SQL): atomic increments, and what changed since when. */
export type CounterStore = {
  /** Adds `by` and returns the new value; a new (or expired) counter expires after `ttlSeconds` when given. */
  increment(key: string, by: number, ttlSeconds?: number): Promise<number>
  /** Live counters changed at or after `since` (epoch ms); 0 = all of them. */
  changedSince(since: number): Promise<{ key: string; value: number }[]>
}

export type CampaignTotals = { impressions: number; clicks: number }

export type CounterMirror = {
  increment(key: string, by: number, ttlSeconds?: number): Promise<number>
  /** The last known value of a counter, without I/O (0 when unknown). */
  value(key: string): number
  /** The last known impression and click totals of a campaign (for CTR), by numeric id. */
  totals(campaignId: number): CampaignTotals
  /** Reads what changed in the store since the last refresh (every counter the first time). */
  refresh(): Promise<void>
  start(): void
  stop(): void
}

type Deps = { counters: CounterStore; clock: () => number; refreshMs: number; logger: Logger }

/** `imp:<id>` / `clk:<id>` (totals); daily keys carry a third part, `yyyymmdd`. */
const TOTAL_KEY = /^(imp|clk):(\d+)$/
const DAY_KEY = /:(\d{8})$/
const NONE: CampaignTotals = Object.freeze({ impressions: 0, clicks: 0 })
/** Each refresh rereads this much before the last one: writes stamped by other processes' clocks. */
const OVERLAP_MS = 5_000
/** Daily counters older than this many days leave the mirror (their budget day is over). */
const KEEP_DAYS = 2

/**
 * Keeps the counters allocation reads (CTR, budget delivery) in memory so the hot path never waits on the
 * counter store. Increments made through this process update the mirror at once with the store's answer;
 * increments made by other processes arrive with the next refresh (every `refreshMs`), which reads only
 * the counters that changed since the previous one.
 */
export function createCounterMirror({ counters, clock, refreshMs, logger }: Deps): CounterMirror {
  const values = new Map<string, number>()
  const totals = new Map<number, CampaignTotals>()
  let refreshedAt: number | undefined
  let prunedDay = ''
  /** Keys incremented here while a refresh was reading: the store's older answer must not overwrite them. */
  let touched: Set<string> | undefined
  let timer: NodeJS.Timeout | undefined

  function set(key: string, value: number): void {
    values.set(key, value)
    const m = TOTAL_KEY.exec(key)
    if (!m) return
    const id = Number(m[2])
    const entry = { ...(totals.get(id) ?? NONE) }
    if (m[1] === 'imp') entry.impressions = value
    else entry.clicks = value
    totals.set(id, entry)
  }

  /** Drops daily counters whose day is over, once a day. */
  function prune(now: number): void {
    const today = utcDay(now)
    if (today === prunedDay) return
    prunedDay = today
    const oldest = utcDay(now - KEEP_DAYS * 86_400_000)
    for (const key of values.keys()) {
      const day = DAY_KEY.exec(key)?.[1]
      if (day !== undefined && day < oldest) values.delete(key)
    }
  }

  async function refresh(): Promise<void> {
    const started = clock()
    const since = refreshedAt === undefined ? 0 : refreshedAt - OVERLAP_MS
    touched = new Set()
    try {
      for (const { key, value } of await counters.changedSince(since)) if (!touched.has(key)) set(key, value)
      refreshedAt = started
      prune(started)
    } finally {
      touched = undefined
    }
  }

  return {
    value: (key) => values.get(key) ?? 0,
    totals: (campaignId) => totals.get(campaignId) ?? NONE,
    async increment(key, by, ttlSeconds) {
      const total = await counters.increment(key, by, ttlSeconds)
      touched?.add(key)
      set(key, total)
      return total
    },
    refresh,
    start() {
      if (timer) return
      timer = setInterval(() => {
        refresh().catch((err) => logger.warn({ err }, 'counter refresh failed; keeping the previous values'))
      }, refreshMs)
      timer.unref()
    },
    stop() {
      if (timer) clearInterval(timer)
      timer = undefined
    },
  }
}
