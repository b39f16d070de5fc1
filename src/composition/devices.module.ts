import type { FastifyInstance } from 'fastify'
import { registerAdminRoutes } from '../http/routes/admin-scope.js'
import { installedAppsRoutes } from '../http/routes/installed-apps.routes.js'
import { profileRoutes } from '../http/routes/profile.routes.js'
import { createDeviceCache } from '../services/device-cache.service.js'
import { createHousekeeping } from '../services/housekeeping.service.js'
import { createInstalledApps } from '../services/installed-apps.service.js'
import type { Core } from './core.js'
import type { Infrastructure } from './infrastructure.js'
import type { Repositories } from './repositories.js'

export type DevicesModule = Awaited<ReturnType<typeof devicesModule>>

/** How often expired device activity is deleted (SQL profile store; DynamoDB expires its own). */
const PURGE_MS = 600_000

/**
 * Devices: each device's profile, registrations and activity behind a two-level cache (this process, then
 * Redis) with invalidation across instances; the installed packages the SDK uploads; the admin API's
 * profiles.
 */
export async function devicesModule(
  app: FastifyInstance,
  core: Core,
  repos: Repositories,
  infra: Infrastructure,
) {
  const { config, clock, metrics } = core
  const bus = infra.redis?.devices
  const devices = createDeviceCache({
    source: repos.devices,
    shared: repos.shared?.deviceCache,
    bus: bus && {
      publish: (deviceId) => bus.publish(String(deviceId)),
      subscribe: (handler, onSubscribed) =>
        bus.subscribe((message) => handler(Number(message)), onSubscribed),
    },
    clock,
    scheduler: core.scheduler,
    maxDevices: config.deviceCacheSize,
    ttlMs: config.deviceCacheTtlMs,
    maxLoads: config.deviceLoadsMax,
    activityFlushMs: config.reportFlushMs,
    onDegraded: core.degraded,
    onLookup: (hit) => metrics.deviceCacheLookups.inc({ result: hit ? 'hit' : 'miss' }),
  })
  core.closeWith(devices.stop)
  metrics.observeDeviceCache(devices)
  if (repos.purgeExpiredActivity) {
    const purge = repos.purgeExpiredActivity
    const housekeeping = createHousekeeping({
      tasks: { 'device activity': purge },
      everyMs: PURGE_MS,
      scheduler: core.scheduler,
    })
    housekeeping.start()
    core.closeWith(housekeeping.stop)
  }
  // Installed packages (docs/architecture.md §W1), for allocation's target_app rules. An upload through
  // another process is seen here after the cache's TTL (5 minutes).
  const installedApps = createInstalledApps({
    store: repos.installedApps,
    clock,
    maxEntries: config.deviceCacheSize,
  })

  await app.register(installedAppsRoutes, { installedApps })
  const profiles = { getProfile: devices.getProfile, putProfile: devices.putProfile, clock }
  await registerAdminRoutes(app, config, profileRoutes, { profiles })
  return { devices, installedApps }
}
