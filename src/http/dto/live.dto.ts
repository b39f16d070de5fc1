import { type Static, Type } from '@sinclair/typebox'
import { derive, type InstanceFigures, requestRate } from '../../domain/fleet.js'
import type { FleetView } from '../../services/fleet.service.js'
import { IsoDateTime, Nullable, toIso } from './common.dto.js'

const Count = Type.Number({ minimum: 0 })
const Rate = Nullable(Type.Number({ minimum: 0 }))

const PostbacksSchema = Nullable(
  Type.Object(
    {
      pending: Count,
      failed: Count,
      oldest_pending_age_seconds: Nullable(Type.Number({ description: 'null without pending postbacks' })),
    },
    { description: 'allot_postbacks and allot_postback_oldest_pending_age_seconds; null: unreadable now' },
  ),
)

const UpstreamSchema = Type.Array(
  Type.Object({
    network: Type.String(),
    state: Type.Unsafe<'closed' | 'half_open' | 'open'>({
      type: 'string',
      enum: ['closed', 'half_open', 'open'],
    }),
  }),
  { description: 'upstream ad networks asked so far and their breakers (allot_upstream_breaker_state)' },
)

/** One instance's figures over its last window, or the fleet's (rates and counts summed). */
const FiguresSchema = {
  requests_per_second: Rate,
  requests: Type.Integer({ minimum: 0, description: 'allocation requests in the window' }),
  requests_total: Type.Integer({
    minimum: 0,
    description: 'allocation requests since the process(es) started',
  }),
  errors: Type.Integer({ minimum: 0, description: '5xx allocation answers in the window' }),
  latency_p50_ms: Rate,
  latency_p99_ms: Rate,
  fill_rate: Rate,
  error_rate: Rate,
  cache_hit_rate: Rate,
  cache_entries: Count,
  postbacks: PostbacksSchema,
  upstream: UpstreamSchema,
}

const FleetSchema = Type.Object(
  {
    self: Type.String({ description: 'the instance that answered' }),
    period_ms: Type.Integer({
      description: 'how often each instance publishes its figures (FLEET_SNAPSHOT_MS)',
    }),
    partial: Type.Boolean({
      description: 'true: the shared store could not be read, only this instance shows',
    }),
    total: Type.Object(
      { instances: Type.Integer({ minimum: 0 }), ...FiguresSchema },
      {
        description:
          "rates and counts summed over the instances; p50/p99 from their latency histograms added up (request-weighted); postbacks: the newest reading of the shared outbox; each network's worst breaker state",
      },
    ),
    instances: Type.Array(
      Type.Object({
        instance_id: Type.String(),
        updated_at: IsoDateTime,
        window_ms: Type.Integer({ minimum: 0, description: 'the window behind the rates (0: none yet)' }),
        ...FiguresSchema,
      }),
      { description: 'every instance that published within the last few periods, by id' },
    ),
  },
  { description: 'the fleet: every instance publishes its figures to Redis (else SQL) each period' },
)

/**
 * GET /admin/live: this process's counters since it started (the top-level fields), and the fleet's figures
 * over the last window with a per-instance breakdown (`fleet`).
 */
export const LiveSchema = Type.Object({
  at: IsoDateTime,
  at_ms: Type.Integer({ description: 'the same instant in epoch milliseconds, for rates' }),
  allocation: Type.Object({
    requests: Type.Array(Type.Object({ route: Type.String(), status: Type.String(), count: Count }), {
      description: 'allocation requests by route and HTTP status (allot_http_request_duration_seconds_count)',
    }),
    latency: Type.Object(
      {
        bounds_ms: Type.Array(Type.Number(), { description: 'bucket upper bounds' }),
        counts: Type.Array(Count, { description: 'requests per bucket; the last one is above every bound' }),
      },
      { description: 'allocation latency over every allocation route (allot_http_request_duration_seconds)' },
    ),
    answers: Type.Object(
      { filled: Count, empty: Count },
      { description: 'answers with at least one item and without any (allot_allocations_total)' },
    ),
  }),
  device_cache: Type.Object(
    { hits: Count, misses: Count, entries: Count },
    { description: 'allot_device_cache_lookups_total and allot_device_cache_entries' },
  ),
  postbacks: PostbacksSchema,
  upstream: UpstreamSchema,
  fleet: FleetSchema,
})
export type LiveDto = Static<typeof LiveSchema>

/** What the live figures are read from: the metrics registry's snapshot. */
export type LiveFigures = {
  at: number
  allocation: {
    requests: { route: string; status: string; count: number }[]
    latency: { boundsMs: number[]; counts: number[] }
    answers: { filled: number; empty: number }
  }
  deviceCache: { hits: number; misses: number; entries: number }
  postbacks: { pending: number; failed: number; oldestPendingAgeSeconds: number | null } | null
  upstream: { network: string; state: 'closed' | 'half_open' | 'open' }[]
}

export function liveToDto(f: LiveFigures, fleet: FleetView): LiveDto {
  return {
    at: toIso(f.at),
    at_ms: f.at,
    allocation: {
      requests: f.allocation.requests,
      latency: { bounds_ms: f.allocation.latency.boundsMs, counts: f.allocation.latency.counts },
      answers: f.allocation.answers,
    },
    device_cache: f.deviceCache,
    postbacks: f.postbacks && {
      pending: f.postbacks.pending,
      failed: f.postbacks.failed,
      oldest_pending_age_seconds: f.postbacks.oldestPendingAgeSeconds,
    },
    upstream: f.upstream,
    fleet: {
      self: fleet.self,
      period_ms: fleet.periodMs,
      partial: fleet.partial,
      total: {
        instances: fleet.total.instances,
        ...figuresToDto(fleet.total, fleet.total.requestsPerSecond),
      },
      instances: fleet.instances.map((i) => ({
        instance_id: i.instanceId,
        updated_at: toIso(i.at),
        window_ms: i.windowMs,
        ...figuresToDto(i, requestRate(i)),
      })),
    },
  }
}

function figuresToDto(f: Omit<InstanceFigures, 'instanceId' | 'windowMs'>, requestsPerSecond: number | null) {
  const d = derive(f)
  return {
    requests_per_second: requestsPerSecond,
    requests: f.requests,
    requests_total: f.requestsTotal,
    errors: f.errors,
    latency_p50_ms: d.p50Ms,
    latency_p99_ms: d.p99Ms,
    fill_rate: d.fillRate,
    error_rate: d.errorRate,
    cache_hit_rate: d.cacheHitRate,
    cache_entries: f.cacheEntries,
    postbacks: f.postbacks && {
      pending: f.postbacks.pending,
      failed: f.postbacks.failed,
      oldest_pending_age_seconds: f.postbacks.oldestPendingAgeSeconds,
    },
    upstream: f.upstream,
  }
}
