import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

export type MetricSources = {
  deviceCacheSize(): number
  deviceLoadsInFlight(): number
  catalog(): { ads: number; contents: number; units: number; ageMs: number }
  /** The postback outbox's backlog (a SQL read per scrape); undefined when it could not be read. */
  postbackBacklog(): Promise<{ pending: number; failed: number; oldestPendingAt: number | null } | undefined>
  /** Each upstream ad network's circuit breaker state. */
  breakerStates(): ReadonlyMap<string, 'closed' | 'half_open' | 'open'>
  clock(): number
}

/** Breaker states as the gauge's values: 0 closed, 1 half-open, 2 open. */
const BREAKER_VALUES = { closed: 0, half_open: 1, open: 2 } as const

/** The request histogram's bucket bounds (seconds). */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

/**
 * A snapshot of the figures the live dashboard shows, read from this registry (the same numbers /metrics
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

/** Prometheus metrics of one process: default process metrics plus Allot's own. */
export function createMetrics(sources: MetricSources) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const requests = new Histogram({
    name: 'allot_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['route', 'status'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  })
  const allocations = new Counter({
    name: 'allot_allocations_total',
    help: 'allocation answers with at least one item (filled) and without any (empty)',
    labelNames: ['result'] as const,
    registers: [registry],
  })
  const deviceCacheLookups = new Counter({
    name: 'allot_device_cache_lookups_total',
    help: "device record lookups found in this process's cache (hit) or not (miss)",
    labelNames: ['result'] as const,
    registers: [registry],
  })
  for (const result of ['filled', 'empty']) allocations.inc({ result }, 0)
  for (const result of ['hit', 'miss']) deviceCacheLookups.inc({ result }, 0)
  const deadlineMisses = new Counter({
    name: 'allot_allocation_deadline_misses_total',
    help: 'per-device reads left out of an allocation for being slower than ALLOCATION_DEADLINE_MS',
    registers: [registry],
  })
  const events = new Counter({
    name: 'allot_events_total',
    help: 'SDK events by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  })
  const rateLimited = new Counter({
    name: 'allot_rate_limited_total',
    help: 'event requests refused with 429 for exceeding EVENT_RATE_LIMIT_PER_MINUTE, by route',
    labelNames: ['route'] as const,
    registers: [registry],
  })
  new Gauge({
    name: 'allot_device_cache_entries',
    help: 'devices held in the in-process cache',
    registers: [registry],
    collect() {
      this.set(sources.deviceCacheSize())
    },
  })
  new Gauge({
    name: 'allot_device_loads_in_flight',
    help: 'device loads and registrations waiting on the stores (capped by DEVICE_LOADS_MAX)',
    registers: [registry],
    collect() {
      this.set(sources.deviceLoadsInFlight())
    },
  })
  new Gauge({
    name: 'allot_catalog_campaigns',
    help: 'servable campaigns in the catalog snapshot',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      const c = sources.catalog()
      this.set({ kind: 'ad' }, c.ads)
      this.set({ kind: 'content' }, c.contents)
    },
  })
  new Gauge({
    name: 'allot_catalog_age_seconds',
    help: 'age of the catalog snapshot',
    registers: [registry],
    collect() {
      this.set(sources.catalog().ageMs / 1000)
    },
  })
  // One outbox read serves both postback gauges of a scrape.
  let backlogRead: ReturnType<MetricSources['postbackBacklog']> | undefined
  const backlog = () => {
    backlogRead ??= sources.postbackBacklog().finally(() => {
      backlogRead = undefined
    })
    return backlogRead
  }
  const postbacks = new Gauge({
    name: 'allot_postbacks',
    help: 'postbacks in the outbox by state: pending (to deliver) and failed (given up on)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const b = await backlog()
      this.reset()
      if (!b) return
      this.set({ state: 'pending' }, b.pending)
      this.set({ state: 'failed' }, b.failed)
    },
  })
  const oldestPending = new Gauge({
    name: 'allot_postback_oldest_pending_age_seconds',
    help: 'age of the oldest pending postback (0 without any)',
    registers: [registry],
    async collect() {
      const b = await backlog()
      this.reset()
      if (!b) return
      this.set(b.oldestPendingAt === null ? 0 : Math.max(0, (sources.clock() - b.oldestPendingAt) / 1000))
    },
  })
  const breakers = new Gauge({
    name: 'allot_upstream_breaker_state',
    help: "each upstream ad network's circuit breaker: 0 closed, 1 half-open, 2 open",
    labelNames: ['network'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const [network, state] of sources.breakerStates()) this.set({ network }, BREAKER_VALUES[state])
    },
  })
  const cacheEntries = registry.getSingleMetric('allot_device_cache_entries') as Gauge

  /** The live dashboard's figures for `allocationRoutes`, from this registry. */
  async function live(allocationRoutes: readonly string[]): Promise<LiveSnapshot> {
    const [histogram, answers, lookups, entries, pb, oldest, upstream] = await Promise.all([
      requests.get(),
      allocations.get(),
      deviceCacheLookups.get(),
      cacheEntries.get(),
      postbacks.get(),
      oldestPending.get(),
      breakers.get(),
    ])
    const routes = new Set(allocationRoutes)
    const mine = histogram.values.filter((v) => routes.has(String(v.labels.route)))
    type Sample = { labels: Record<string, string | number | undefined>; value: number }
    const sampleOf = (values: readonly Sample[], label: string, value: string) =>
      values.find((v) => v.labels[label] === value)?.value ?? 0
    // Cumulative buckets (per route and status) summed, then made per-bucket.
    const cumulative = REQUEST_BUCKETS.map(() => 0).concat(0)
    for (const v of mine) {
      if (v.metricName !== 'allot_http_request_duration_seconds_bucket') continue
      const le = (v.labels as Record<string, string | number | undefined>).le
      const i = le === '+Inf' ? REQUEST_BUCKETS.length : REQUEST_BUCKETS.indexOf(Number(le))
      if (i >= 0) cumulative[i] = (cumulative[i] as number) + v.value
    }
    const counts = cumulative.map((c, i) => c - (i === 0 ? 0 : (cumulative[i - 1] as number)))
    const pending = pb.values.find((v) => v.labels.state === 'pending')
    return {
      at: sources.clock(),
      allocation: {
        requests: mine
          .filter((v) => v.metricName === 'allot_http_request_duration_seconds_count')
          .map((v) => ({ route: String(v.labels.route), status: String(v.labels.status), count: v.value })),
        latency: { boundsMs: REQUEST_BUCKETS.map((b) => b * 1000), counts },
        answers: {
          filled: sampleOf(answers.values, 'result', 'filled'),
          empty: sampleOf(answers.values, 'result', 'empty'),
        },
      },
      deviceCache: {
        hits: sampleOf(lookups.values, 'result', 'hit'),
        misses: sampleOf(lookups.values, 'result', 'miss'),
        entries: entries.values[0]?.value ?? 0,
      },
      postbacks: pending
        ? {
            pending: pending.value,
            failed: sampleOf(pb.values, 'state', 'failed'),
            oldestPendingAgeSeconds: pending.value > 0 ? (oldest.values[0]?.value ?? null) : null,
          }
        : null,
      upstream: upstream.values.map((v) => ({
        network: String(v.labels.network),
        state: v.value === 2 ? 'open' : v.value === 1 ? 'half_open' : 'closed',
      })),
    }
  }

  return { registry, requests, deadlineMisses, events, rateLimited, allocations, deviceCacheLookups, live }
}

export type Metrics = ReturnType<typeof createMetrics>
