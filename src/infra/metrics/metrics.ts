import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { LiveSnapshot } from '../../domain/fleet.js'

/** The postback outbox's backlog (a SQL read per scrape); undefined when it could not be read. */
export type PostbackBacklog = { pending: number; failed: number; oldestPendingAt: number | null } | undefined

/** Breaker states as the gauge's values: 0 closed, 1 half-open, 2 open. */
const BREAKER_VALUES = { closed: 0, half_open: 1, open: 2 } as const

/** The request histogram's bucket bounds (seconds). */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

/**
 * Prometheus metrics of one process: default process metrics, the request and event counters every part
 * shares, and gauges each feature adds for its own figures (`observe…`), read on each scrape.
 */
export function createMetrics(clock: () => number) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const counters = createCounters(registry)
  const gauge = (
    name: string,
    help: string,
    collect: (g: Gauge<string>) => void | Promise<void>,
    labelNames: readonly string[] = [],
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        await collect(this)
      },
    })
  return {
    registry,
    ...counters,
    /** The device cache's size and the loads waiting on the stores. */
    observeDeviceCache(source: { size(): number; pendingLoads(): number }): void {
      gauge('allot_device_cache_entries', 'devices held in the in-process cache', (g) => g.set(source.size()))
      gauge(
        'allot_device_loads_in_flight',
        'device loads and registrations waiting on the stores (capped by DEVICE_LOADS_MAX)',
        (g) => g.set(source.pendingLoads()),
      )
    },
    /** The catalog snapshot's size and age. */
    observeCatalog(source: () => { ads: number; contents: number; ageMs: number }): void {
      gauge(
        'allot_catalog_campaigns',
        'servable campaigns in the catalog snapshot',
        (g) => {
          const c = source()
          g.set({ kind: 'ad' }, c.ads)
          g.set({ kind: 'content' }, c.contents)
        },
        ['kind'],
      )
      gauge('allot_catalog_age_seconds', 'age of the catalog snapshot', (g) => g.set(source().ageMs / 1000))
    },
    observePostbacks: (source: () => Promise<PostbackBacklog>) => observePostbacks(gauge, source, clock),
    /** Each upstream ad network's circuit breaker. */
    observeBreakers(source: () => ReadonlyMap<string, 'closed' | 'half_open' | 'open'>): void {
      gauge(
        'allot_upstream_breaker_state',
        "each upstream ad network's circuit breaker: 0 closed, 1 half-open, 2 open",
        (g) => {
          g.reset()
          for (const [network, state] of source()) g.set({ network }, BREAKER_VALUES[state])
        },
        ['network'],
      )
    },
    /** Each dependency's last known state (the readiness checks): answering or not, and whether it is required. */
    observeDependencies(source: () => readonly { name: string; up: boolean; required: boolean }[]): void {
      gauge(
        'allot_dependency_up',
        'whether each dependency answered its last readiness check (1) or not (0); required="false" ones (redis) degrade service, the others stop it',
        (g) => {
          const states = source()
          g.reset()
          for (const d of states) g.set({ dependency: d.name, required: String(d.required) }, d.up ? 1 : 0)
        },
        ['dependency', 'required'],
      )
    },
    /**
     * The live dashboard's figures for `allocationRoutes`, from this registry. `postbacks: false` skips the
     * outbox backlog (a SQL read) and answers `postbacks: null`, for frequent readers.
     */
    live: (allocationRoutes: readonly string[], { postbacks = true } = {}) =>
      liveSnapshot(registry, counters, allocationRoutes, clock, postbacks),
  }
}

type GaugeFactory = (
  name: string,
  help: string,
  collect: (g: Gauge<string>) => void | Promise<void>,
  labelNames?: readonly string[],
) => Gauge<string>

/** The postback outbox's backlog by state and the oldest pending row's age: one outbox read per scrape. */
function observePostbacks(gauge: GaugeFactory, source: () => Promise<PostbackBacklog>, clock: () => number) {
  let backlogRead: Promise<PostbackBacklog> | undefined
  const backlog = () => {
    backlogRead ??= source().finally(() => {
      backlogRead = undefined
    })
    return backlogRead
  }
  gauge(
    'allot_postbacks',
    'postbacks in the outbox by state: pending (to deliver) and failed (given up on)',
    async (g) => {
      const b = await backlog()
      g.reset()
      if (!b) return
      g.set({ state: 'pending' }, b.pending)
      g.set({ state: 'failed' }, b.failed)
    },
    ['state'],
  )
  gauge(
    'allot_postback_oldest_pending_age_seconds',
    'age of the oldest pending postback (0 without any)',
    async (g) => {
      const b = await backlog()
      g.reset()
      if (!b) return
      g.set(b.oldestPendingAt === null ? 0 : Math.max(0, (clock() - b.oldestPendingAt) / 1000))
    },
  )
}

/** The counters and the request histogram, shared by every feature. */
function createCounters(registry: Registry) {
  const requests = new Histogram({
    name: 'allot_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['route', 'status'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  })
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] })
  const allocations = counter(
    'allot_allocations_total',
    'allocation answers with at least one item (filled) and without any (empty)',
    ['result'],
  )
  const deviceCacheLookups = counter(
    'allot_device_cache_lookups_total',
    "device record lookups found in this process's cache (hit) or not (miss)",
    ['result'],
  )
  for (const result of ['filled', 'empty']) allocations.inc({ result }, 0)
  for (const result of ['hit', 'miss']) deviceCacheLookups.inc({ result }, 0)
  return {
    requests,
    allocations,
    deviceCacheLookups,
    deadlineMisses: counter(
      'allot_allocation_deadline_misses_total',
      'per-device reads left out of an allocation for being slower than ALLOCATION_DEADLINE_MS',
    ),
    events: counter(
      'allot_events_total',
      'SDK events by kind and outcome (x-allot-reward, x-allot-counted)',
      ['kind', 'outcome'],
    ),
    rateLimited: counter(
      'allot_rate_limited_total',
      'event requests over their device rate (EVENT_RATE_LIMIT_PER_MINUTE) or address ceiling, by route: refused with 429, or (landings, beacons) answered uncounted',
      ['route'],
    ),
  }
}

type Counters = ReturnType<typeof createCounters>

/** The live dashboard's figures for `allocationRoutes`, read from the registry /metrics exposes. */
async function liveSnapshot(
  registry: Registry,
  { requests, allocations, deviceCacheLookups }: Counters,
  allocationRoutes: readonly string[],
  clock: () => number,
  withPostbacks: boolean,
): Promise<LiveSnapshot> {
  // A gauge a feature did not register (no upstream networks configured, say) reads as no values.
  const read = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values ?? []
  const [histogram, answers, lookups, entries, pb, oldest, upstream] = await Promise.all([
    requests.get(),
    allocations.get(),
    deviceCacheLookups.get(),
    read('allot_device_cache_entries'),
    withPostbacks ? read('allot_postbacks') : [],
    withPostbacks ? read('allot_postback_oldest_pending_age_seconds') : [],
    read('allot_upstream_breaker_state'),
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
  const pending = pb.find((v) => v.labels.state === 'pending')
  return {
    at: clock(),
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
      entries: entries[0]?.value ?? 0,
    },
    postbacks: pending
      ? {
          pending: pending.value,
          failed: sampleOf(pb, 'state', 'failed'),
          oldestPendingAgeSeconds: pending.value > 0 ? (oldest[0]?.value ?? null) : null,
        }
      : null,
    upstream: upstream.map((v) => ({
      network: String(v.labels.network),
      state: v.value === 2 ? 'open' : v.value === 1 ? 'half_open' : 'closed',
    })),
  }
}
