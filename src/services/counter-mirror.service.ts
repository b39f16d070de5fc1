import { utcDay } from '../lib/counter-keys.js'
import type { CounterIncrement, CounterStore } from './ports/events.ports.js'
import type { ScheduledJob, Scheduler } from './scheduler.js'

export type CampaignTotals = { impressions: number; clicks: number }

export type CounterMirror = {
  /** Counts at once here; the store gets it with the next flush (at most `flushMs` later). */
  add(key: string, by: number, ttlSeconds?: number): void
  /** The last known value of a counter, this process's unflushed increments included, without I/O. */
  value(key: string): number
  /** The last known impression and click totals of a campaign (for CTR), by numeric id. */
  totals(campaignId: number): CampaignTotals
  /** Reads what changed in the store since the last refresh (every counter the first time). */
  refresh(): Promise<void>
  /** Writes the increments made here since the last flush (one statement). */
  flush(): Promise<void>
  /** Refreshes every `refreshMs` and flushes every `flushMs`; a failed run keeps its data for the next. */
  start(): void
  /** Stops both; flushes what is left. */
  stop(): Promise<void>
}

type Deps = {
  counters: CounterStore
  clock: () => number
  refreshMs: number
  flushMs: number
  scheduler: Scheduler
}

/** `imp:<id>` / `clk:<id>` (totals); daily keys carry a third part, `yyyymmdd`. */
const TOTAL_KEY = /^(imp|clk):(\d+)$/
const DAY_KEY = /:(\d{8})$/
const NONE: CampaignTotals = Object.freeze({ impressions: 0, clicks: 0 })
/** Each refresh rereads this much before the last one: writes stamped by other processes' clocks. */
const OVERLAP_MS = 5_000
/** Daily counters older than this many days leave the mirror (their budget day is over). */
const KEEP_DAYS = 2

/**
 * Keeps the delivery counters allocation reads (CTR, budget delivery) in memory so neither allocation nor an
 * event ever waits on the counter store. Increments made here count at once and reach the store in batches
 * (every `flushMs`, one statement: a process that dies loses at most that much of them); increments made by
 * other processes arrive with the next refresh (every `refreshMs`), which reads only the counters that
 * changed since the previous one. Budgets do not depend on these counters: they are leased (budget-leases).
 */
export function createCounterMirror({ counters, clock, refreshMs, flushMs, scheduler }: Deps): CounterMirror {
  /** The store's values as last read (or written by a flush of this process). */
  const stored = new Map<string, number>()
  /** Increments made here and not yet flushed. */
  const pending = new Map<string, CounterIncrement>()
  const totals = new Map<number, CampaignTotals>()
  let refreshedAt: number | undefined
  let prunedDay = ''
  let jobs: ScheduledJob[] = []
  const value = (key: string) => (stored.get(key) ?? 0) + (pending.get(key)?.by ?? 0)

  /** Keeps a campaign's totals (read per content candidate) in step with the key's value. */
  function updateTotals(key: string): void {
    const m = TOTAL_KEY.exec(key)
    if (!m) return
    const id = Number(m[2])
    const entry = { ...(totals.get(id) ?? NONE) }
    if (m[1] === 'imp') entry.impressions = value(key)
    else entry.clicks = value(key)
    totals.set(id, entry)
  }

  /** Drops daily counters whose day is over, once a day. */
  function prune(now: number): void {
    const today = utcDay(now)
    if (today === prunedDay) return
    prunedDay = today
    const oldest = utcDay(now - KEEP_DAYS * 86_400_000)
    for (const key of stored.keys()) {
      const day = DAY_KEY.exec(key)?.[1]
      if (day !== undefined && day < oldest) stored.delete(key)
    }
  }

  async function refresh(): Promise<void> {
    const started = clock()
    const since = refreshedAt === undefined ? 0 : refreshedAt - OVERLAP_MS
    const changed = await counters.changedSince(since)
    // A flush that landed after this read began is in `stored` already, and the read may have missed it.
    for (const { key, value: v } of changed) {
      stored.set(key, Math.max(v, stored.get(key) ?? 0))
      updateTotals(key)
    }
    refreshedAt = started
    prune(started)
  }

  async function flush(): Promise<void> {
    if (pending.size === 0) return
    const batch = [...pending.values()]
    pending.clear()
    try {
      await counters.addMany(batch)
    } catch (err) {
      // Kept for the next flush: put back, merged with what was counted meanwhile.
      for (const inc of batch) {
        const known = pending.get(inc.key)
        pending.set(inc.key, known ? { ...inc, by: inc.by + known.by } : inc)
      }
      throw err
    }
    for (const inc of batch) stored.set(inc.key, (stored.get(inc.key) ?? 0) + inc.by)
  }

  return {
    add(key, by, ttlSeconds) {
      const known = pending.get(key)
      pending.set(key, { key, by: (known?.by ?? 0) + by, ttlSeconds })
      updateTotals(key)
    },
    value,
    totals: (campaignId) => totals.get(campaignId) ?? NONE,
    refresh,
    flush,
    start() {
      if (jobs.length > 0) return
      jobs = [
        scheduler.every('counter refresh', refreshMs, refresh),
        scheduler.every('counter flush', flushMs, flush),
      ]
    },
    async stop() {
      const stopping = jobs
      jobs = []
      await Promise.all(stopping.map((j) => j.stop()))
      await flush()
    },
  }
}
