import { type Static, Type } from '@sinclair/typebox'
import { IsoDateTime, Nullable } from './common.dto.js'

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
