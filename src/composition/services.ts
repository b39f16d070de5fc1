import type { FastifyInstance } from 'fastify'
import type { Dispatcher } from 'undici'
import type { Config } from '../config/config.js'
import { ALLOCATION_ROUTES } from '../http/routes/allocation.routes.js'
import { createJsonTransport } from '../infra/http/json-transport.js'
import { createUndiciTransport } from '../infra/http/postback-transport.js'
import { createMetrics } from '../infra/metrics/metrics.js'
import { createAdNetworks } from '../services/ad-network.service.js'
import { createAdminService } from '../services/admin.service.js'
import { createAllocationService } from '../services/allocation.service.js'
import { createAllocationTally } from '../services/allocation-tally.service.js'
import { createCatalogService } from '../services/catalog.service.js'
import { createContentService } from '../services/content.service.js'
import { createCounterMirror } from '../services/counter-mirror.service.js'
import { createDegradationReport } from '../services/degradation.service.js'
import { seedDemoData } from '../services/demo-data.js'
import { createDeviceCache } from '../services/device-cache.service.js'
import { createEventService } from '../services/event.service.js'
import { createHousekeeping } from '../services/housekeeping.service.js'
import { createInstalledApps } from '../services/installed-apps.service.js'
import { createPayloadReader, createPayloadSigner } from '../services/payload-signer.js'
import { createPostbackWorker } from '../services/postback-worker.service.js'
import { createReach } from '../services/reach.service.js'
import { createReadiness } from '../services/readiness.service.js'
import { createReportService } from '../services/report.service.js'
import type { Infrastructure } from './infrastructure.js'
import type { Repositories } from './repositories.js'

/** Longest /readyz waits for one dependency; every check runs at once, so it answers within about this. */
const READINESS_TIMEOUT_MS = 800
/** How often expired counters and activity are deleted. */
const HOUSEKEEPING_MS = 600_000

export type Services = Awaited<ReturnType<typeof createServices>>

type Options = { config: Config; clock: () => number; dispatcher?: Dispatcher | undefined }

/**
 * Step 3: the use cases over the repositories, with their background work started (catalog and counter
 * refresh, postback delivery, report and reach flushes, housekeeping) and stopped on close. Stops are
 * registered after the clients' closes, so they run before them (onClose runs in reverse order).
 */
export async function createServices(
  app: FastifyInstance,
  { config, clock, dispatcher }: Options,
  repos: Repositories,
  infra: Infrastructure,
) {
  const logger = app.log
  const closeWith = (stop: () => unknown) => app.addHook('onClose', async () => stop())

  // Read on scrape: the sources named here are created below.
  const metrics = createMetrics({
    deviceCacheSize: () => deviceCache.size(),
    deviceLoadsInFlight: () => deviceCache.pendingLoads(),
    catalog: () => {
      const c = catalog.current()
      return {
        ads: c.ads.length,
        contents: c.contents.length,
        units: c.units.size,
        ageMs: clock() - c.loadedAt,
      }
    },
    postbackBacklog: () =>
      repos.rewards.backlog().catch((err) => {
        report.degraded('postback backlog read', err)
        return undefined
      }),
    breakerStates: () => adNetworks.breakerStates(),
    clock,
  })
  const report = createDegradationReport({ logger, onDeadlineMissed: () => metrics.deadlineMisses.inc() })

  const catalog = createCatalogService({
    store: {
      catalogVersion: repos.campaigns.catalogVersion,
      listUnits: repos.units.all,
      listServableCampaigns: repos.campaigns.listServableCampaigns,
      listCategories: repos.categories.all,
      listChannels: repos.channels.all,
    },
    refreshMs: config.catalogRefreshMs,
    clock,
    logger,
  })
  const catalogChannel = infra.redis?.catalog
  const admin = createAdminService({
    units: repos.units,
    campaigns: repos.campaigns,
    categories: repos.categories,
    channels: repos.channels,
    onCatalogChange: async () => {
      await catalog.reload()
      // Other instances reload at once instead of at their next poll (which they still do): the message is
      // sent, not waited for, so an admin write never waits on Redis.
      catalogChannel?.publish('changed').catch((err) => report.degraded('catalog change publish', err))
    },
  })
  catalogChannel?.subscribe(() => {
    catalog.reload().catch((err) => logger.warn({ err }, 'catalog reload failed'))
  })
  if (config.seedDemoData && (await seedDemoData(admin, clock())))
    logger.info('seeded the demo catalog (unit 1001)')
  await catalog.reload()
  catalog.start()
  closeWith(catalog.stop)

  const counterMirror = createCounterMirror({
    counters: repos.counters,
    clock,
    refreshMs: config.counterRefreshMs,
    logger,
  })
  // Without the database at boot the process still starts: counters are reread every COUNTER_REFRESH_MS.
  await counterMirror.refresh().catch((err) => report.degraded('counter refresh at boot', err))
  counterMirror.start()
  closeWith(counterMirror.stop)

  const housekeeping = createHousekeeping({ tasks: repos.purges, everyMs: HOUSEKEEPING_MS, clock, logger })
  housekeeping.start()
  closeWith(housekeeping.stop)

  const deviceChannel = infra.redis?.devices
  const deviceCache = createDeviceCache({
    source: repos.devices,
    shared: repos.shared?.deviceCache,
    bus: deviceChannel && {
      publish: (deviceId) => deviceChannel.publish(String(deviceId)),
      subscribe: (handler) => deviceChannel.subscribe((message) => handler(Number(message))),
    },
    clock,
    maxDevices: config.deviceCacheSize,
    ttlMs: config.deviceCacheTtlMs,
    maxLoads: config.deviceLoadsMax,
    onDegraded: report.degraded,
    onLookup: (hit) => metrics.deviceCacheLookups.inc({ result: hit ? 'hit' : 'miss' }),
  })
  // Installed packages (SDK-CONTRACT §1), for allocation's target_app rules. An upload through another
  // process is seen here after the cache's TTL (5 minutes).
  const installedApps = createInstalledApps({
    store: repos.installedApps,
    clock,
    maxEntries: config.deviceCacheSize,
  })

  const signer = createPayloadSigner(config.payloadSecret)
  const postbackWorker = createPostbackWorker({
    outbox: repos.rewards,
    transport: createUndiciTransport(dispatcher),
    clock,
    logger,
    timeoutMs: config.postbackTimeoutMs,
    pollMs: config.postbackPollMs,
  })
  postbackWorker.start()
  // Shutdown: stop claiming at once; deliveries in flight get most of the grace period, then are aborted
  // and their rows released. Awaited in onClose, which runs after the requests in flight have finished
  // and before the database closes.
  let closing = false
  let draining: Promise<void> = Promise.resolve()
  app.addHook('preClose', async () => {
    closing = true
    draining = postbackWorker.stop((config.shutdownGraceMs * 3) / 4)
  })
  closeWith(() => draining)

  const events = createEventService({
    catalog,
    campaigns: repos.campaigns,
    payloads: createPayloadReader(signer, config.legacyPayloads),
    devices: deviceCache,
    counters: counterMirror,
    reports: repos.reportCounters,
    ledger: repos.rewards,
    deviceLock: repos.shared?.deviceLock,
    clock,
    dailyCounterTtlSeconds: config.dailyCounterTtlSeconds,
    onPostback: () => void postbackWorker.kick(),
    onDegraded: report.degraded,
  })

  const adNetworks = createAdNetworks({
    transport: createJsonTransport(dispatcher),
    deadlineMs: config.upstreamDeadlineMs,
    logger,
  })
  closeWith(adNetworks.close)
  const allocation = createAllocationService({
    upstream: adNetworks,
    installed: installedApps,
    catalog,
    clock,
    random: Math.random,
    // The explainer inspects the store itself: its truth, and nothing gets cached or recorded.
    devices: { load: deviceCache.load, peek: deviceCache.peek, inspect: deviceCache.inspect },
    campaigns: repos.campaigns,
    counters: counterMirror,
    deadlineMs: config.allocationDeadlineMs,
    onDeadline: report.deadlineMissed,
  })

  // Delivery reports: allocations are tallied here and flushed in batches; events count as they happen.
  const tally = createAllocationTally({ sink: repos.reportCounters, flushMs: config.reportFlushMs, logger })
  tally.start()
  closeWith(tally.stop)
  // Reach: each device's last-seen attributes go to the profile store (batched), a uniform sample stays here.
  const reach = createReach({
    store: repos.devices,
    catalog,
    clock,
    sampleSize: config.reachSampleSize,
    refreshMs: config.reachRefreshMs,
    flushMs: config.reportFlushMs,
    logger,
  })
  reach.start()
  closeWith(reach.stop)

  return {
    metrics,
    admin,
    allocation,
    events,
    installedApps,
    deviceCache,
    content: createContentService({ configs: repos.contentConfigs, catalog }),
    reports: createReportService({
      counters: repos.reportCounters,
      catalog,
      campaigns: repos.campaigns,
      clock,
    }),
    reach,
    postbacks: {
      list: repos.rewards.list,
      get: repos.rewards.get,
      retry: (id: number) => repos.rewards.retry(id, clock()),
    },
    profiles: { getProfile: deviceCache.getProfile, putProfile: deviceCache.putProfile, clock },
    signer,
    /** Called with each allocation answered: delivery reports and reach sightings. */
    onAllocated(result: Parameters<typeof tally.record>[0], elapsedMs: number): void {
      const items = result.ads.length + result.upstream.length + (result.contents?.length ?? 0)
      metrics.allocations.inc({ result: items > 0 ? 'filled' : 'empty' })
      tally.record(result, elapsedMs)
      reach.observe(result)
    },
    /** The live dashboard's snapshot, from the registry /metrics exposes. */
    live: () => metrics.live(ALLOCATION_ROUTES),
    closing: () => closing,
    readiness: createReadiness({
      checks: infra.checks,
      timeoutMs: READINESS_TIMEOUT_MS,
      catalogCheckedAt: catalog.checkedAt,
      catalogStaleAfterMs: Math.max(60_000, config.catalogRefreshMs * 5),
      closing: () => closing,
      clock,
    }),
  }
}
