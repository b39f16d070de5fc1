import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { FastifyInstance } from 'fastify'
import { registerAdminRoutes } from '../http/routes/admin-scope.js'
import { ALLOCATION_ROUTES } from '../http/routes/allocation.routes.js'
import { dashboardRoutes } from '../http/routes/dashboard.routes.js'
import { insightRoutes } from '../http/routes/insight.routes.js'
import { liveRoutes } from '../http/routes/live.routes.js'
import type { Allocation } from '../services/allocation.service.js'
import { createFleetView } from '../services/fleet.service.js'
import { createReach } from '../services/reach.service.js'
import { createReportService } from '../services/report.service.js'
import { createReportTally } from '../services/report-tally.service.js'
import type { CatalogModule } from './catalog.module.js'
import type { Core } from './core.js'
import type { Repositories } from './repositories.js'

export type InsightModule = Awaited<ReturnType<typeof insightModule>>

/**
 * Insight: delivery reports (allocations tallied here and flushed in batches, events counted as they
 * happen), the reach sample (each device's last-seen attributes go to the profile store in batches; a
 * uniform sample stays here), the live figures (this process's, published each period for the fleet view,
 * and every instance's read back), and the dashboard page that shows them.
 */
export async function insightModule(
  app: FastifyInstance,
  core: Core,
  repos: Repositories,
  { catalog, dashboardDir }: { catalog: CatalogModule['catalog']; dashboardDir: string },
) {
  const { config, clock, logger } = core
  const tally = createReportTally({
    sink: repos.reportCounters,
    flushMs: config.reportFlushMs,
    scheduler: core.scheduler,
    logger,
  })
  tally.start()
  core.closeWith(tally.stop)
  const reach = createReach({
    store: repos.devices,
    catalog,
    clock,
    sampleSize: config.reachSampleSize,
    refreshMs: config.reachRefreshMs,
    flushMs: config.reportFlushMs,
    scheduler: core.scheduler,
    logger,
  })
  reach.start()
  core.closeWith(reach.stop)
  const reports = createReportService({
    // What this process counted and has not written yet shows at once; other processes' within a flush.
    counters: {
      read: (query) => tally.withUnwritten(query, () => repos.reportCounters.read(query)),
    },
    catalog,
    campaigns: repos.campaigns,
    clock,
  })

  const live = () => core.metrics.live(ALLOCATION_ROUTES)
  const fleet = createFleetView({
    store: repos.fleet,
    instanceId: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    read: (options) => core.metrics.live(ALLOCATION_ROUTES, options),
    clock,
    periodMs: config.fleetSnapshotMs,
    scheduler: core.scheduler,
    degraded: core.degraded,
  })
  fleet.start()
  core.closeWith(fleet.stop)

  await registerAdminRoutes(app, config, insightRoutes, { insight: { reports, reach } })
  await registerAdminRoutes(app, config, liveRoutes, { live, fleet: fleet.view })
  // The page is public (it holds no data); what it shows comes from the /admin calls.
  await app.register(dashboardRoutes, { dir: dashboardDir })
  return {
    /** The report tally: events add their counts here too (written in batches). */
    tally,
    /** Learns from each allocation answered: filled or empty, the report's tally, reach sightings (no I/O). */
    observe(allocation: Allocation, elapsedMs: number): void {
      const filled =
        allocation.ads.length + allocation.upstream.length + (allocation.contents?.length ?? 0) > 0
      core.metrics.allocations.inc({ result: filled ? 'filled' : 'empty' })
      tally.record(allocation, elapsedMs)
      reach.observe(allocation)
    },
  }
}
