import { histogramQuantile } from './report.js'

/** A circuit breaker's state, as the live figures carry it. */
export type BreakerState = 'closed' | 'half_open' | 'open'

/** The postback outbox's backlog as one process read it (the outbox is shared: every process reads the same one). */
export type PostbackBacklogFigures = {
  pending: number
  failed: number
  oldestPendingAgeSeconds: number | null
}

/** One process's counters since it started (the metrics registry's live snapshot has this shape). */
export type LiveCounters = {
  at: number
  allocation: {
    requests: readonly { route: string; status: string; count: number }[]
    latency: { boundsMs: readonly number[]; counts: readonly number[] }
    answers: { filled: number; empty: number }
  }
  deviceCache: { hits: number; misses: number; entries: number }
  postbacks: PostbackBacklogFigures | null
  upstream: readonly { network: string; state: BreakerState }[]
}

/**
 * What one instance publishes about itself every period: its rates over the last window (differences of its
 * counters), the window's latency histogram (so the fleet's quantiles come from every request, not from an
 * average of quantiles), and what it read of the shared outbox and its own breakers.
 */
export type InstanceFigures = {
  instanceId: string
  /** When the figures were taken (epoch ms). */
  at: number
  /** How long the window behind the rates is (0 on the first snapshot: no rate yet). */
  windowMs: number
  /** Allocation requests in the window, 5xx answers among them, and since the process started. */
  requests: number
  errors: number
  requestsTotal: number
  /** Latency over the window: bucket upper bounds (ms) and per-bucket counts (one more: above every bound). */
  latency: { boundsMs: number[]; counts: number[] }
  /** Answers with and without items in the window. */
  filled: number
  empty: number
  /** Device-cache lookups in the window, and devices held now. */
  cacheHits: number
  cacheMisses: number
  cacheEntries: number
  postbacks: PostbackBacklogFigures | null
  upstream: { network: string; state: BreakerState }[]
}

/** Quantiles and ratios derived from one instance's figures, or from the fleet's sums. */
export type DerivedFigures = {
  p50Ms: number | null
  p99Ms: number | null
  fillRate: number | null
  errorRate: number | null
  cacheHitRate: number | null
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0)
const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : null)

/** The figures of the window between `then` (undefined: none yet) and `now`, two readings of one process. */
export function instanceFigures(instanceId: string, now: LiveCounters, then?: LiveCounters): InstanceFigures {
  const base = then ?? now
  const requestsOf = (c: LiveCounters, status?: (code: number) => boolean) =>
    sum(c.allocation.requests.filter((r) => !status || status(Number(r.status))).map((r) => r.count))
  const serverError = (code: number) => code >= 500
  return {
    instanceId,
    at: now.at,
    windowMs: now.at - base.at,
    requests: requestsOf(now) - requestsOf(base),
    errors: requestsOf(now, serverError) - requestsOf(base, serverError),
    requestsTotal: requestsOf(now),
    latency: {
      boundsMs: [...now.allocation.latency.boundsMs],
      counts: now.allocation.latency.counts.map((c, i) => c - (base.allocation.latency.counts[i] ?? 0)),
    },
    filled: now.allocation.answers.filled - base.allocation.answers.filled,
    empty: now.allocation.answers.empty - base.allocation.answers.empty,
    cacheHits: now.deviceCache.hits - base.deviceCache.hits,
    cacheMisses: now.deviceCache.misses - base.deviceCache.misses,
    cacheEntries: now.deviceCache.entries,
    postbacks: now.postbacks,
    upstream: [...now.upstream],
  }
}

type Countable = Pick<
  InstanceFigures,
  'requests' | 'errors' | 'latency' | 'filled' | 'empty' | 'cacheHits' | 'cacheMisses'
>

/** Allocation requests per second over an instance's window (null before it has one). */
export const requestRate = (f: Pick<InstanceFigures, 'requests' | 'windowMs'>): number | null =>
  f.windowMs > 0 ? f.requests / (f.windowMs / 1000) : null

/** Latency quantiles (from the histogram) and ratios of one set of figures. */
export function derive(f: Countable): DerivedFigures {
  return {
    p50Ms: histogramQuantile(f.latency.counts, 0.5, f.latency.boundsMs),
    p99Ms: histogramQuantile(f.latency.counts, 0.99, f.latency.boundsMs),
    fillRate: ratio(f.filled, f.filled + f.empty),
    errorRate: ratio(f.errors, f.requests),
    cacheHitRate: ratio(f.cacheHits, f.cacheHits + f.cacheMisses),
  }
}

/** The whole fleet: counts summed, one merged histogram, the newest outbox reading, each breaker's worst state. */
export type FleetTotal = Omit<InstanceFigures, 'instanceId' | 'windowMs'> & {
  instances: number
  requestsPerSecond: number | null
}

const SEVERITY: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 }

/**
 * Sums the instances' figures. Request rates add up (each instance's own rate over its own window); counts
 * add up; latency quantiles come from the histograms added bucket by bucket, so the fleet's p99 weighs every
 * request alike (a busy instance counts more than an idle one). The postback backlog is of one shared outbox:
 * the newest reading is taken, not a sum. A network's breaker shows its worst state on any instance.
 */
export function fleetTotal(instances: readonly InstanceFigures[]): FleetTotal {
  const add = (pick: (f: InstanceFigures) => number) => sum(instances.map(pick))
  const bounds = instances[0]?.latency.boundsMs ?? []
  const counts = bounds.map(() => 0).concat(0)
  for (const f of instances) for (const [i, c] of f.latency.counts.entries()) counts[i] = (counts[i] ?? 0) + c
  const newest = [...instances].sort((a, b) => b.at - a.at)
  const breakers = new Map<string, BreakerState>()
  for (const f of instances)
    for (const u of f.upstream) {
      const seen = breakers.get(u.network)
      if (!seen || SEVERITY[u.state] > SEVERITY[seen]) breakers.set(u.network, u.state)
    }
  const rates = instances.map(requestRate)
  return {
    instances: instances.length,
    at: newest[0]?.at ?? 0,
    requests: add((f) => f.requests),
    errors: add((f) => f.errors),
    requestsTotal: add((f) => f.requestsTotal),
    requestsPerSecond: rates.some((r) => r !== null) ? sum(rates.map((r) => r ?? 0)) : null,
    latency: { boundsMs: [...bounds], counts },
    filled: add((f) => f.filled),
    empty: add((f) => f.empty),
    cacheHits: add((f) => f.cacheHits),
    cacheMisses: add((f) => f.cacheMisses),
    cacheEntries: add((f) => f.cacheEntries),
    postbacks: newest.find((f) => f.postbacks !== null)?.postbacks ?? null,
    upstream: [...breakers]
      .map(([network, state]) => ({ network, state }))
      .sort((a, b) => a.network.localeCompare(b.network)),
  }
}

/**
 * A snapshot of the figures the live dashboard shows, read from the metrics registry (the same numbers /metrics
 * exposes): counters since the process started; the page derives rates from two snapshots.
 */
export type LiveSnapshot = {
  at: number
  allocation: {
    /** Requests per allocation route and status. */
    requests: { route: string; status: string; count: number }[]
    /** Latency over every allocation route: bucket upper bounds (ms) and per-bucket counts (one more: +Inf). */
    latency: { boundsMs: number[]; counts: number[] }
    /** Answers with at least one item, and without any. */
    answers: { filled: number; empty: number }
  }
  deviceCache: { hits: number; misses: number; entries: number }
  postbacks: { pending: number; failed: number; oldestPendingAgeSeconds: number | null } | null
  upstream: { network: string; state: 'closed' | 'half_open' | 'open' }[]
}
