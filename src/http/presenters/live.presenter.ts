import { derive, type InstanceFigures, type LiveSnapshot, requestRate } from '../../domain/fleet.js'
import type { FleetView } from '../../services/fleet.service.js'
import type { LiveDto } from '../dto/live.dto.js'
import { toIso } from './iso-time.js'

/** This process's figures and the fleet's → admin JSON (snake_case, ISO times). */
export function liveToDto(f: LiveSnapshot, fleet: FleetView): LiveDto {
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
