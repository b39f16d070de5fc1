import { type Static, Type } from '@sinclair/typebox'
import { IsoDateTime, Nullable, toIso } from './common.dto.js'

const Count = Type.Number({ minimum: 0 })

/** GET /admin/live: this process's counters since it started (the page derives rates from two snapshots). */
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
  postbacks: Nullable(
    Type.Object(
      {
        pending: Count,
        failed: Count,
        oldest_pending_age_seconds: Nullable(Type.Number({ description: 'null without pending postbacks' })),
      },
      { description: 'allot_postbacks and allot_postback_oldest_pending_age_seconds; null: unreadable now' },
    ),
  ),
  upstream: Type.Array(
    Type.Object({
      network: Type.String(),
      state: Type.Unsafe<'closed' | 'half_open' | 'open'>({
        type: 'string',
        enum: ['closed', 'half_open', 'open'],
      }),
    }),
    { description: 'upstream ad networks asked so far and their breakers (allot_upstream_breaker_state)' },
  ),
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

export function liveToDto(f: LiveFigures): LiveDto {
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
  }
}
