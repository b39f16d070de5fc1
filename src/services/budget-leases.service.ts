import { budgetPools, dayPeriod, spendsBudget } from '../domain/budget.js'
import type { ServedCampaign } from '../domain/catalog.js'
import type { BudgetLeaseStore, BudgetPool, LeaseUse } from './ports/events.ports.js'
import type { Scheduler } from './scheduler.js'

type Deps = {
  store: BudgetLeaseStore
  scheduler: Scheduler
  clock: () => number
  /** This process's name on its leases (unique per process start). */
  holder: string
  /** How long a lease lasts past its holder's last report; a lapsed one is reclaimed after it. */
  leaseMs: number
  /** How often consumption is reported (and leases renewed). */
  reportMs: number
  /** How often lapsed leases (of dead holders) are reclaimed. */
  reclaimMs: number
  /** A slice covers about this much of the campaign's recent rate in this process. */
  sliceMs?: number
}

/** One lease of this process: granted so far, consumed so far, what the store last heard, and until when it holds. */
type Lease = {
  campaignId: number
  period: string
  granted: number
  consumed: number
  reported: number
  validUntil: number
  /** Consumption in the current rate window, and when the window started. */
  recent: number
  recentSince: number
  /** The pool had nothing left at the last ask (asked again after EXHAUSTED_RETRY_MS). */
  exhaustedAt: number | undefined
  refilling: Promise<void> | undefined
}

/** Clocks may disagree a little: a holder stops spending a lease this long before it lapses (at most 10 s). */
const validityMargin = (leaseMs: number) => Math.min(10_000, Math.floor(leaseMs / 3))
/** An exhausted pool is asked again after this (leases given back or reclaimed meanwhile). */
const EXHAUSTED_RETRY_MS = 5_000
const MAX_SLICE = 10_000

/**
 * Budgets spent from leased slices. To spend one unit of a budgeted campaign, this process takes it from its
 * lease on each of the campaign's pools (its total, and its UTC day): no I/O. When a lease is empty it asks
 * the store for a slice (one statement on the pool row) sized by the campaign's recent rate here, at most a
 * quarter of what is left; consumption is reported every `reportMs`, which also renews the leases; what was
 * not consumed goes back at shutdown, or, if the process dies, when another process reclaims its lapsed
 * lease (after `leaseMs`). The store's pools never commit more than the limit, so budgets stay exact across
 * any number of processes.
 */
export function createBudgetLeases(deps: Deps) {
  const leases = new Map<string, Lease>()
  const leaseOf = (pool: BudgetPool, now: number): Lease => {
    const key = `${pool.campaignId}|${pool.period}`
    let lease = leases.get(key)
    if (!lease) {
      lease = newLease(pool, now)
      leases.set(key, lease)
    }
    return lease
  }
  const reporting = deps.scheduler.every('budget lease report', deps.reportMs, (now) =>
    report(deps, leases, now),
  )
  const reclaiming = deps.scheduler.every('budget lease reclaim', deps.reclaimMs, (now) =>
    deps.store.reclaimLapsed(now),
  )
  return {
    /**
     * Takes one unit of `c`'s budget for a delivery of `kind` (impression or click); 'budget' when a pool has
     * nothing left. A campaign without a budget in that unit is always 'ok'.
     */
    async spend(c: ServedCampaign, kind: 'impression' | 'click'): Promise<'ok' | 'budget'> {
      if (!spendsBudget(c, kind)) return 'ok'
      const pools = budgetPools(c, deps.clock())
      // Each round either spends or asks the store, which grants at least one unit or says the pool is empty;
      // budgets are finite, so this ends (a unit granted here may be taken by a racing spend: ask again).
      for (;;) {
        const now = deps.clock()
        const held = pools.map((pool) => ({ pool, lease: leaseOf(pool, now) }))
        const empty = held.filter(({ lease }) => available(lease, now) < 1)
        if (empty.length === 0) {
          for (const { lease } of held) consume(lease, now)
          return 'ok'
        }
        await Promise.all(empty.map(({ pool, lease }) => refill(deps, pool, lease, now)))
        if (empty.some(({ lease }) => lease.exhaustedAt !== undefined)) return 'budget'
      }
    },
    /** Whether this process last found one of `c`'s pools empty (allocation skips it meanwhile). */
    exhausted(c: ServedCampaign): boolean {
      const now = deps.clock()
      return budgetPools(c, now).some((pool) => {
        const lease = leases.get(`${pool.campaignId}|${pool.period}`)
        return lease?.exhaustedAt !== undefined && now - lease.exhaustedAt < EXHAUSTED_RETRY_MS
      })
    },
    /** Reports what was consumed, then gives back what was not (at shutdown). */
    async stop(): Promise<void> {
      await Promise.all([reporting.stop(), reclaiming.stop()])
      const uses = [...leases.values()].map(useOf)
      if (uses.length > 0) await deps.store.release(deps.holder, uses, deps.clock())
      leases.clear()
    },
    /** Reclaims lapsed leases once now (at start: a process that died before this one held some). */
    reclaim: () => deps.store.reclaimLapsed(deps.clock()),
  }
}

function newLease(pool: BudgetPool, now: number): Lease {
  return {
    campaignId: pool.campaignId,
    period: pool.period,
    granted: 0,
    consumed: 0,
    reported: 0,
    validUntil: 0,
    recent: 0,
    recentSince: now,
    exhaustedAt: undefined,
    refilling: undefined,
  }
}

const useOf = (l: Lease): LeaseUse => ({ campaignId: l.campaignId, period: l.period, consumed: l.consumed })

/** Units this process may still spend from its lease now. */
function available(lease: Lease, now: number): number {
  return now < lease.validUntil ? lease.granted - lease.consumed : 0
}

function consume(lease: Lease, now: number): void {
  lease.consumed++
  if (now - lease.recentSince > 60_000) {
    lease.recent = 0
    lease.recentSince = now
  }
  lease.recent++
}

/** Asks the store for a slice (one ask at a time per lease); an empty answer marks the pool exhausted. */
function refill(deps: Deps, pool: BudgetPool, lease: Lease, now: number): Promise<void> {
  if (lease.exhaustedAt !== undefined && now - lease.exhaustedAt < EXHAUSTED_RETRY_MS)
    return Promise.resolve()
  lease.refilling ??= (async () => {
    try {
      // A lease past its validity is worth nothing here; what it held goes back when the store reclaims it.
      if (now >= lease.validUntil) lease.granted = lease.consumed
      const granted = await deps.store.lease(
        deps.holder,
        pool,
        sliceWanted(deps, lease, now),
        now,
        now + deps.leaseMs,
      )
      lease.granted += granted
      lease.exhaustedAt = granted > 0 ? undefined : now
      if (granted > 0) lease.validUntil = now + deps.leaseMs - validityMargin(deps.leaseMs)
    } finally {
      lease.refilling = undefined
    }
  })()
  return lease.refilling
}

/** About `sliceMs` of this process's recent rate for the campaign: 1 when it is new or slow. */
function sliceWanted(deps: Deps, lease: Lease, now: number): number {
  const windowMs = Math.max(1_000, now - lease.recentSince)
  const rate = lease.recent / windowMs
  return Math.min(MAX_SLICE, Math.max(1, Math.ceil(rate * (deps.sliceMs ?? 2_000))))
}

/** Reports consumption and renews every lease; a lease the store no longer has is spent no further. */
async function report(deps: Deps, leases: Map<string, Lease>, now: number): Promise<void> {
  const live = [...leases.values()].filter(
    (l) => l.granted > 0 && now < l.validUntil + validityMargin(deps.leaseMs),
  )
  const uses = live.map(useOf)
  const gone = await deps.store.report(deps.holder, uses, now + deps.leaseMs)
  const goneKeys = new Set(gone.map((g) => `${g.campaignId}|${g.period}`))
  for (const lease of live) {
    if (goneKeys.has(`${lease.campaignId}|${lease.period}`)) {
      lease.granted = lease.consumed
      lease.validUntil = 0
      continue
    }
    lease.reported = lease.consumed
    lease.validUntil = now + deps.leaseMs - validityMargin(deps.leaseMs)
  }
  // Leases of days that are over are done with: what they did not consume goes back.
  const today = dayPeriod(now)
  const over = [...leases.entries()].filter(
    ([, l]) => l.period.startsWith('d:') && l.period < today && !l.refilling,
  )
  if (over.length === 0) return
  await deps.store.release(
    deps.holder,
    over.map(([, l]) => useOf(l)),
    now,
  )
  for (const [key] of over) leases.delete(key)
}
