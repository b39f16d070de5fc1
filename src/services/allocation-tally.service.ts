import {
  CAMPAIGN_METRICS,
  LATENCY_BOUNDS_MS,
  latencyBucket,
  latencyMetric,
  type ReportIncrement,
  UNIT_METRICS,
} from '../domain/report.js'
import { localDate } from '../domain/schedule.js'
import type { Allocation } from './allocation.service.js'
import type { Logger } from './logger.js'

/** Where the tally's increments go (the SQL report counters): one call adds them all, or none. */
export type ReportCounterSink = { add(increments: readonly ReportIncrement[]): Promise<void> }

/** One unit's allocations on one day, since the last flush. */
type UnitTally = {
  requests: number
  items: number
  filled: number
  pageSlots: number
  empty: number
  latency: Uint32Array
  /** Allocations that included each campaign. */
  campaigns: Map<number, number>
}

type Deps = { sink: ReportCounterSink; flushMs: number; logger: Logger }

export type AllocationTally = ReturnType<typeof createAllocationTally>

/**
 * Allocation-time report figures, aggregated in memory so the hot path only bumps a few numbers, and added
 * to the durable report counters every `flushMs` and on stop. A failed flush keeps its figures for the
 * next one; a process that dies loses at most one interval of them (event figures are not affected).
 */
export function createAllocationTally({ sink, flushMs, logger }: Deps) {
  /** day → unit id → tally */
  let pending = new Map<string, Map<number, UnitTally>>()
  let timer: NodeJS.Timeout | undefined
  let flushing: Promise<void> | undefined

  function tallyOf(day: string, unitId: number): UnitTally {
    let units = pending.get(day)
    if (!units) {
      units = new Map()
      pending.set(day, units)
    }
    let tally = units.get(unitId)
    if (!tally) {
      tally = {
        requests: 0,
        items: 0,
        filled: 0,
        pageSlots: 0,
        empty: 0,
        latency: new Uint32Array(LATENCY_BOUNDS_MS.length + 1),
        campaigns: new Map(),
      }
      units.set(unitId, tally)
    }
    return tally
  }

  function increments(batch: Map<string, Map<number, UnitTally>>): ReportIncrement[] {
    const out: ReportIncrement[] = []
    for (const [day, units] of batch) {
      for (const [unitId, t] of units) {
        const unit = (metric: string, by: number) => {
          if (by !== 0) out.push({ kind: 'unit', unitId, campaignId: 0, day, metric, by })
        }
        unit(UNIT_METRICS.requests, t.requests)
        unit(UNIT_METRICS.items, t.items)
        unit(UNIT_METRICS.filled, t.filled)
        unit(UNIT_METRICS.pageSlots, t.pageSlots)
        unit(UNIT_METRICS.empty, t.empty)
        for (let i = 0; i < t.latency.length; i++) unit(latencyMetric(i), t.latency[i] as number)
        for (const [campaignId, n] of t.campaigns)
          out.push({ kind: 'campaign', unitId, campaignId, day, metric: CAMPAIGN_METRICS.allocations, by: n })
      }
    }
    return out
  }

  /** Puts a batch that could not be written back in front of what came since. */
  function restore(batch: Map<string, Map<number, UnitTally>>): void {
    for (const [day, units] of batch) {
      for (const [unitId, t] of units) {
        const into = tallyOf(day, unitId)
        into.requests += t.requests
        into.items += t.items
        into.filled += t.filled
        into.pageSlots += t.pageSlots
        into.empty += t.empty
        t.latency.forEach((n, i) => {
          into.latency[i] = (into.latency[i] as number) + n
        })
        for (const [id, n] of t.campaigns) into.campaigns.set(id, (into.campaigns.get(id) ?? 0) + n)
      }
    }
  }

  async function flushNow(): Promise<void> {
    if (pending.size === 0) return
    const batch = pending
    pending = new Map()
    try {
      await sink.add(increments(batch))
    } catch (err) {
      restore(batch)
      throw err
    }
  }

  /** Writes what was tallied so far; one flush at a time. */
  function flush(): Promise<void> {
    flushing ??= flushNow().finally(() => {
      flushing = undefined
    })
    return flushing
  }

  return {
    /** Counts one allocation answer and how long it took (ms); no I/O. */
    record(a: Allocation, elapsedMs: number): void {
      const t = tallyOf(localDate(a.unit.timezone, a.now), a.unit.id)
      const items = a.ads.length + a.upstream.length + (a.contents?.length ?? 0)
      t.requests++
      t.items += items
      t.filled += Math.min(items, a.unit.page_limit)
      t.pageSlots += a.unit.page_limit
      if (items === 0) t.empty++
      const bucket = latencyBucket(elapsedMs)
      t.latency[bucket] = (t.latency[bucket] as number) + 1
      for (const e of a.ads) t.campaigns.set(e.campaign.id, (t.campaigns.get(e.campaign.id) ?? 0) + 1)
      for (const e of a.contents ?? [])
        t.campaigns.set(e.campaign.id, (t.campaigns.get(e.campaign.id) ?? 0) + 1)
    },
    flush,
    start(): void {
      if (timer) return
      timer = setInterval(() => {
        flush().catch((err) => logger.warn({ err }, 'report flush failed; kept for the next one'))
      }, flushMs)
      timer.unref()
    },
    /**
     * Stops the timer and writes what is left, once: a database that fails now costs those figures (logged),
     * never the shutdown.
     */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer)
      timer = undefined
      await flushing?.catch(() => {})
      await flush().catch((err) => logger.warn({ err }, 'report figures not written at shutdown; lost'))
    },
  }
}
