import { randomUUID } from 'node:crypto'
import formbody from '@fastify/formbody'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from './config/config.js'
import { installErrorHandler } from './http/error-handler.js'
import { adminRoutes } from './http/routes/admin.routes.js'
import { allocationRoutes } from './http/routes/allocation.routes.js'
import { contentRoutes } from './http/routes/content.routes.js'
import { healthRoutes } from './http/routes/health.routes.js'
import { openDatabase } from './infra/database/database.js'
import { migrateToLatest } from './infra/database/migrator.js'
import { createCampaignRepository } from './repositories/campaign.repository.js'
import { createCategoryRepository, createChannelRepository } from './repositories/content.repository.js'
import { createContentConfigRepository } from './repositories/content-config.repository.js'
import { createMemoryCounterRepository } from './repositories/memory-counter.repository.js'
import { createSqlDeviceRepository } from './repositories/sql-device.repository.js'
import { createUnitRepository } from './repositories/unit.repository.js'
import { createAdminService } from './services/admin.service.js'
import { createAllocationService } from './services/allocation.service.js'
import { createCatalogService } from './services/catalog.service.js'
import { createContentService } from './services/content.service.js'
import { createCounterMirror } from './services/counter-mirror.service.js'
import { seedDemoData } from './services/demo-data.js'
import { createDeviceCache } from './services/device-cache.service.js'
import { createPayloadSigner } from './services/payload-signer.js'

export type AppOptions = {
  config: Config
  /** Injectable for tests; defaults to Date.now. */
  clock?: () => number
}

/** Builds Allot without listening: tests call this and use `app.inject`. */
export async function createApp({ config, clock = Date.now }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: config.logLevel },
    genReqId: (request) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID()
    },
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true },
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
    },
  })
  await app.register(allot, { config, clock })
  return app
}

/** The composition root as a plain Fastify plugin: config → infrastructure → repositories → services → routes. */
export const allot = fp(wire, { name: 'allot' })

async function wire(app: FastifyInstance, { config, clock }: Required<AppOptions>): Promise<void> {
  installErrorHandler(app)
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  // The SDK sends JSON or form bodies; anything else (text/plain included) is a 415, not a confusing 400.
  app.removeContentTypeParser('text/plain')
  await app.register(formbody, { bodyLimit: config.bodyLimitBytes })

  const database = openDatabase(config.database)
  app.addHook('onClose', () => database.close())
  if (config.migrateOnStart) await migrateToLatest(database.db)

  const units = createUnitRepository(database.db, clock)
  const campaigns = createCampaignRepository(database.db, clock)
  const categories = createCategoryRepository(database.db, clock)
  const channels = createChannelRepository(database.db, clock)
  // Embedded adapters of the device-data ports; production adapters (DynamoDB, Redis) replace them.
  const devices = createSqlDeviceRepository(database.db, database.dialect)
  const counters = createMemoryCounterRepository(clock)
  const housekeeping = setInterval(() => {
    counters.sweep()
    devices.purgeExpiredActivity(clock()).catch((err) => app.log.warn({ err }, 'activity purge failed'))
  }, 600_000)
  housekeeping.unref()
  app.addHook('onClose', async () => clearInterval(housekeeping))

  const catalog = createCatalogService({
    store: {
      catalogVersion: campaigns.catalogVersion,
      listUnits: units.all,
      listServableCampaigns: campaigns.listServableCampaigns,
      listCategories: categories.all,
      listChannels: channels.all,
    },
    refreshMs: config.catalogRefreshMs,
    clock,
    logger: app.log,
  })
  const admin = createAdminService({
    units,
    campaigns,
    categories,
    channels,
    onCatalogChange: catalog.reload,
  })
  if (config.seedDemoData && (await seedDemoData(admin, clock())))
    app.log.info('seeded the demo catalog (unit 1001)')
  await catalog.reload()
  catalog.start()
  app.addHook('onClose', async () => catalog.stop())

  const counterMirror = createCounterMirror({
    counters,
    catalog,
    clock,
    refreshMs: config.counterRefreshMs,
    logger: app.log,
  })
  await counterMirror.refresh()
  counterMirror.start()
  app.addHook('onClose', async () => counterMirror.stop())

  const contentConfigs = createContentConfigRepository(database.db, database.dialect, clock)
  const deviceCache = createDeviceCache({
    source: {
      ...devices,
      getContentConfig: contentConfigs.getContentConfig,
      updateContentConfig: contentConfigs.updateContentConfig,
    },
    clock,
    maxDevices: config.deviceCacheSize,
    ttlMs: config.deviceCacheTtlMs,
  })
  const allocation = createAllocationService({
    catalog,
    signer: createPayloadSigner(config.payloadSecret),
    clock,
    random: Math.random,
    devices: deviceCache,
    counters: counterMirror,
    deadlineMs: config.allocationDeadlineMs,
    onDeadline: (what) =>
      app.log.warn({ what }, 'left out of an allocation: slower than ALLOCATION_DEADLINE_MS'),
  })
  const content = createContentService({ configs: deviceCache, catalog })

  await app.register(healthRoutes, {
    readiness: async () => {
      const checks: Record<string, string> = {}
      try {
        await database.ping()
        checks.database = 'ok'
      } catch {
        checks.database = 'unreachable'
      }
      const age = clock() - catalog.current().loadedAt
      checks.catalog = age < Math.max(60_000, config.catalogRefreshMs * 5) ? 'ok' : `stale (${age} ms)`
      return { ok: Object.values(checks).every((c) => c === 'ok'), checks }
    },
  })
  await app.register(allocationRoutes, { allocation })
  await app.register(contentRoutes, { content })
  await app.register(adminRoutes, { prefix: '/admin', admin, adminToken: config.adminToken })
}
