import {
  CAMPAIGN_METRICS,
  LATENCY_BOUNDS_MS,
  latencyBucket,
  latencyMetric,
  matchesQuery,
  type ReportCounterQuery,
  type ReportCounterRow,
  type ReportIncrement,
  UNIT_METRICS,
} from '../domain/report.js'
import { localDate } from '../domain/schedule.js'
import type { Allocation } from './allocation.service.js'
import type { ReportCounterSink } from './ports/insight.ports.js'
import type { Logger } from './ports/logger.ports.js'
import { createPeriodicFlush, type Scheduler } from './scheduler.js'

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

type Deps = { sink: ReportCounterSink; flushMs: number; scheduler: Scheduler; logger: Logger }

/**
 * Report figures aggregated in memory so the hot paths only bump a few numbers: allocation figures per unit
 * and day, and the events' counters (impressions, clicks, unlocks, budget spend, ineligible), added to the
 * durable report counters every `flushMs` and on stop. A failed flush keeps its figures for the next one; a
 * process that dies loses at most one interval of them. Rewards and postbacks are not here: they are counted
 * in the grant's own transaction, so reports agree with the ledger.
 */
export function createReportTally({ sink, flushMs, scheduler, logger }: Deps) {
  /** day → unit id → tally */
  let pending = new Map<string, Map<number, UnitTally>>()
  /** Event increments by counter, merged. */
  let events = new Map<string, ReportIncrement>()

  function addEvents(increments: Iterable<ReportIncrement>): void {
    for (const i of increments) {
      const key = `${i.kind}|${i.unitId}|${i.campaignId}|${i.day}|${i.metric}`
      const known = events.get(key)
      if (known) known.by += i.by
      else events.set(key, { ...i })
    }
  }

  function tallyOf(day: string, unitId: number): UnitTally {
    let units = pending.get(day)
    if (!units) {
      units = new Map()
      pending.set(day, units)
    }
    let tally = units.get(unitId)
    if (!tally) {
      tally = emptyTally()
      units.set(unitId, tally)
    }
    return tally
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

  // A report adds this process's unwritten figures to the stored ones; reads and flushes take turns.
  const turns = createTurns()

  function flushNow(): Promise<void> {
    return turns.write(async () => {
      if (pending.size === 0 && events.size === 0) return
      const batch = pending
      const eventBatch = events
      pending = new Map()
      events = new Map()
      try {
        await sink.add([...allocationIncrements(batch), ...eventBatch.values()])
      } catch (err) {
        restore(batch)
        addEvents(eventBatch.values())
        throw err
      }
    })
  }

  /** This process's figures not written yet, as report rows matching `query`. */
  function unwritten(query: ReportCounterQuery): ReportCounterRow[] {
    return [...allocationIncrements(pending), ...events.values()]
      .filter((i) => matchesQuery(query, i))
      .map((i) => ({ unitId: i.unitId, campaignId: i.campaignId, day: i.day, metric: i.metric, value: i.by }))
  }

  const flusher = createPeriodicFlush(scheduler, 'report flush', flushMs, flushNow)
  const beforeRead: (() => Promise<void>)[] = []

  return {
    /**
     * The stored rows `readStored` finds, then what this process counted and has not written yet, each
     * figure once: no flush runs between the two.
     */
    async withUnwritten(
      query: ReportCounterQuery,
      readStored: () => Promise<ReportCounterRow[]>,
    ): Promise<ReportCounterRow[]> {
      await Promise.all(beforeRead.map((settle) => settle()))
      return turns.read(async () => [...(await readStored()), ...unwritten(query)])
    },
    /**
     * Counts that are still on their way when a report is read (a landing's click, counted in a batch just
     * after its answer): `settle` brings them in before every read.
     */
    settleBeforeRead(settle: () => Promise<void>): void {
      beforeRead.push(settle)
    },
    /** Counts events' report increments; no I/O (written with the next flush). */
    add(increments: readonly ReportIncrement[]): void {
      addEvents(increments)
    },
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
    /** Writes what was tallied so far; one flush at a time (a failed one keeps its figures for the next). */
    flush: flusher.flush,
    start: flusher.start,
    /**
     * Stops the timer and writes what is left, once: a database that fails now costs those figures (logged),
     * never the shutdown.
     */
    stop: (): Promise<void> =>
      flusher.stop().catch((err) => logger.warn({ err }, 'report figures not written at shutdown; lost')),
  }
}

/**
 * Reads and writes that take turns. A batch is in the store from its commit on, but its flush learns so only
 * when the write answers: a read in between would count it twice (stored and unwritten), or not at all. So
 * a read waits for the write in flight, and a write for the reads in progress.
 */
function createTurns() {
  let writing: Promise<void> | undefined
  let reads = 0
  let readsOver: (() => void)[] = []
  return {
    async read<T>(work: () => Promise<T>): Promise<T> {
      while (writing) await writing
      reads++
      try {
        return await work()
      } finally {
        reads--
        if (reads === 0) {
          const waiting = readsOver
          readsOver = []
          for (const resume of waiting) resume()
        }
      }
    },
    async write(work: () => Promise<void>): Promise<void> {
      while (reads > 0) await new Promise<void>((resolve) => readsOver.push(resolve))
      const done = work()
      writing = done.catch(() => undefined)
      try {
        await done
      } finally {
        writing = undefined
      }
    },
  }
}

function emptyTally(): UnitTally {
  return {
    requests: 0,
    items: 0,
    filled: 0,
    pageSlots: 0,
    empty: 0,
    latency: new Uint32Array(LATENCY_BOUNDS_MS.length + 1),
    campaigns: new Map(),
  }
}

/** The report increments of a batch of allocation tallies (day → unit → tally); zeros left out. */
function allocationIncrements(batch: Map<string, Map<number, UnitTally>>): ReportIncrement[] {
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
