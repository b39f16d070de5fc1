import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

export type MetricSources = {
  deviceCacheSize(): number
  deviceLoadsInFlight(): number
  catalog(): { ads: number; contents: number; units: number; ageMs: number }
}

/** Prometheus metrics of one process: default process metrics plus Allot's own. */
export function createMetrics(sources: MetricSources) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const requests = new Histogram({
    name: 'allot_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  })
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
  return { registry, requests, deadlineMisses, events, rateLimited }
}

export type Metrics = ReturnType<typeof createMetrics>
