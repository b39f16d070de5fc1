import { randomUUID } from 'node:crypto'
import formbody from '@fastify/formbody'
import rateLimiter from '@fastify/rate-limit'
import swagger, { type StaticDocumentSpec } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance, type FastifyRequest, LogController } from 'fastify'
import fp from 'fastify-plugin'
import type { Dispatcher } from 'undici'
import type { Config } from './config/config.js'
import { ACTIVITY_TTL_MS } from './domain/device.js'
import { AllotError, DependencyUnavailable } from './domain/errors.js'
import { installErrorHandler } from './http/error-handler.js'
import { createAllocationPresenter } from './http/presenters/allocation.presenter.js'
import { adminRoutes } from './http/routes/admin.routes.js'
import { allocationRoutes } from './http/routes/allocation.routes.js'
import { contentRoutes } from './http/routes/content.routes.js'
import { eventRoutes } from './http/routes/event.routes.js'
import { healthRoutes, type ReadinessCheck } from './http/routes/health.routes.js'
import { installedAppsRoutes } from './http/routes/installed-apps.routes.js'
import { plainDecimalNumbers } from './http/validation.js'
import { openDatabase, type SqlDatabase } from './infra/database/database.js'
import { migrateToLatest } from './infra/database/migrator.js'
import { createJsonTransport } from './infra/http/json-transport.js'
import { createUndiciTransport } from './infra/http/postback-transport.js'
import { createMetrics } from './infra/metrics/metrics.js'
import type { Channel } from './infra/redis/pubsub.js'
import { createCampaignRepository } from './repositories/campaign.repository.js'
import { createCategoryRepository, createChannelRepository } from './repositories/content.repository.js'
import { createContentConfigRepository } from './repositories/content-config.repository.js'
import { createInstalledAppsRepository } from './repositories/installed-apps.repository.js'
import { createReportCounterRepository } from './repositories/report-counter.repository.js'
import { createRewardRepository } from './repositories/reward.repository.js'
import { createSqlCounterRepository } from './repositories/sql-counter.repository.js'
import { createSqlDeviceRepository } from './repositories/sql-device.repository.js'
import { createUnitRepository } from './repositories/unit.repository.js'
import { createAdNetworks } from './services/ad-network.service.js'
import { createAdminService } from './services/admin.service.js'
import { createAllocationService } from './services/allocation.service.js'
import { createAllocationTally } from './services/allocation-tally.service.js'
import { createCatalogService } from './services/catalog.service.js'
import { createContentService } from './services/content.service.js'
import { createCounterMirror } from './services/counter-mirror.service.js'
import { seedDemoData } from './services/demo-data.js'
import { createDeviceCache } from './services/device-cache.service.js'
import { createEventService } from './services/event.service.js'
import { createInstalledApps } from './services/installed-apps.service.js'
import { createPayloadReader, createPayloadSigner } from './services/payload-signer.js'
import { createPostbackWorker } from './services/postback-worker.service.js'
import { createReach } from './services/reach.service.js'
import { createReportService } from './services/report.service.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The internal listener's app: /metrics, /docs and /docs/json, plus /healthz and /readyz. Built with
     * the public app and closed with it; src/server.ts listens on it at OPS_HOST:OPS_PORT.
     */
    ops: FastifyInstance
  }
}

/** Longest /readyz waits for one dependency; every check runs at once, so it answers within about this. */
const READINESS_TIMEOUT_MS = 800

export type AppOptions = {
  config: Config
  /** Injectable for tests; defaults to Date.now. */
  clock?: () => number
  /** Outbound HTTP dispatcher (tests pass an undici MockAgent); defaults to undici's global one. */
  dispatcher?: Dispatcher
}

/** Builds Allot without listening: tests call this and use `app.inject`. */
export async function createApp({
  config,
  clock = Date.now,
  dispatcher,
}: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: config.logLevel },
    genReqId: (request) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID()
    },
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    // Two log lines per request cost more than an allocation's own work; requests are logged at debug
    // (below), errors by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    // On close: idle keep-alive sockets are closed, requests in flight finish, and a request that still
    // arrives on an open socket is served (with `connection: close`) instead of getting a 503.
    forceCloseConnections: 'idle',
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true },
    ajv: {
      // No array coercion: `device_id=[5]` is not the id 5.
      customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false },
    },
  })
  await app.register(allot, { config, clock, dispatcher })
  return app
}

/** The composition root as a plain Fastify plugin: config → infrastructure → repositories → services → routes. */
export const allot = fp(wire, { name: 'allot' })

async function wire(
  app: FastifyInstance,
  { config, clock, dispatcher }: AppOptions & { clock: () => number },
): Promise<void> {
  installErrorHandler(app)
  plainDecimalNumbers(app)
  // One log line per kind per 10 s at most: a slow or dead store under load must not also flood the log.
  const degraded = throttledWarn(app.log, 'degraded: a best-effort step failed; serving without it')
  const deadlineMissed = throttledWarn(app.log, 'left out of allocations: slower than ALLOCATION_DEADLINE_MS')
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  // The SDK sends JSON or form bodies; anything else (text/plain included) is a 415, not a confusing 400.
  app.removeContentTypeParser('text/plain')
  await app.register(formbody, { bodyLimit: config.bodyLimitBytes })
  // OpenAPI from the route schemas (registered before the routes so it sees them); served by the ops app.
  await app.register(swagger, {
    openapi: {
      info: { title: 'Allot', description: 'Lockscreen allocation service (DESIGN §3)', version: '0.1.0' },
      components: { securitySchemes: { admin: { type: 'http', scheme: 'bearer' } } },
    },
  })
  const ops = createOpsApp(app)
  app.decorate('ops', ops)
  // Registered first, so it runs last: the ops listener answers /readyz ("shutting down") until the end.
  app.addHook('onClose', () => ops.close())

  const database = openDatabase(config.database, config.databaseLimits)
  app.addHook('onClose', () => database.close())
  if (config.migrateOnStart) await migrate(config, database)

  const units = createUnitRepository(database.db, clock)
  const campaigns = createCampaignRepository(database.db, clock)
  const categories = createCategoryRepository(database.db, clock)
  const channels = createChannelRepository(database.db, clock)
  const readinessChecks: Record<string, () => Promise<unknown>> = { database: () => database.ping() }

  // Redis (production): shared counters, the device cache's second level and cross-instance invalidation.
  // Production-only adapters load on demand: the embedded default never pays for ioredis or the AWS SDK.
  const redisKit = config.redis ? await loadRedisKit() : undefined
  const redis = config.redis && (await redisKit?.openRedis(config.redis))
  if (redis) {
    app.addHook('onClose', () => redis.close())
    readinessChecks.redis = () => redis.ping()
  }
  const prefix = config.redis?.keyPrefix ?? ''
  // Delivery counters decide budgets (money): the SQL database is their store of record in every mode.
  const counters = createSqlCounterRepository(database.db, database.dialect, clock)
  // Delivery reports: durable SQL counters, added to as events happen and (allocations) in batches.
  const reportCounters = createReportCounterRepository(database.db, database.dialect, clock)
  const tally = createAllocationTally({
    sink: reportCounters,
    flushMs: config.reportFlushMs,
    logger: app.log,
  })
  tally.start()
  // onClose hooks run last-registered first: this one flushes before the database closes.
  app.addHook('onClose', () => tally.stop())
  const deviceChannel: Channel | undefined = redis && redisKit?.redisChannel(redis, `${prefix}devices`)
  const catalogChannel: Channel | undefined = redis && redisKit?.redisChannel(redis, `${prefix}catalog`)

  // Profiles and activity: DynamoDB in production when PROFILE_STORE=dynamodb, else the SQL database.
  const sqlDevices = createSqlDeviceRepository(database)
  let devices: Omit<typeof sqlDevices, 'purgeExpiredActivity'> = sqlDevices
  if (config.profileStore === 'dynamodb') {
    const { openDynamo, ensureDeviceTable, createDynamoDeviceRepository } = await loadDynamoKit()
    const dynamo = openDynamo({
      region: config.dynamo.region,
      endpoint: config.dynamo.endpoint,
      timeoutMs: config.dynamo.timeoutMs,
    })
    app.addHook('onClose', async () => dynamo.close())
    if (config.migrateOnStart) await ensureDeviceTable(dynamo.client, config.dynamo.table)
    devices = createDynamoDeviceRepository(dynamo.doc, config.dynamo.table, config.dynamo.timeoutMs)
    readinessChecks.dynamodb = () => devices.getProfile(0)
  }
  const housekeeping = setInterval(() => {
    counters.purgeExpired(clock()).catch((err) => app.log.warn({ err }, 'counter purge failed'))
    if (config.profileStore === 'sql')
      sqlDevices.purgeExpiredActivity(clock()).catch((err) => app.log.warn({ err }, 'activity purge failed'))
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
    onCatalogChange: async () => {
      await catalog.reload()
      // Other instances reload at once instead of at their next poll (which they still do): the message is
      // sent, not waited for, so an admin write never waits on Redis.
      catalogChannel?.publish('changed').catch((err) => degraded('catalog change publish', err))
    },
  })
  catalogChannel?.subscribe(() => {
    catalog.reload().catch((err) => app.log.warn({ err }, 'catalog reload failed'))
  })
  if (config.seedDemoData && (await seedDemoData(admin, clock())))
    app.log.info('seeded the demo catalog (unit 1001)')
  await catalog.reload()
  catalog.start()
  app.addHook('onClose', async () => catalog.stop())

  const counterMirror = createCounterMirror({
    counters,
    clock,
    refreshMs: config.counterRefreshMs,
    logger: app.log,
  })
  // Without Redis at boot the process still starts: counters are reread every COUNTER_REFRESH_MS.
  await counterMirror.refresh().catch((err) => degraded('counter refresh at boot', err))
  counterMirror.start()
  app.addHook('onClose', async () => counterMirror.stop())

  const deviceCache = createDeviceCache({
    source: devices,
    shared: redis && redisKit?.createRedisDeviceCache(redis.client, prefix, config.sharedCacheTtlMs),
    bus: deviceChannel && {
      publish: (deviceId) => deviceChannel.publish(String(deviceId)),
      subscribe: (handler) => deviceChannel.subscribe((message) => handler(Number(message))),
    },
    clock,
    maxDevices: config.deviceCacheSize,
    ttlMs: config.deviceCacheTtlMs,
    maxLoads: config.deviceLoadsMax,
    onDegraded: degraded,
  })
  // Installed packages (SDK-CONTRACT §1), for allocation's target_app rules. An upload through another
  // process is seen here after the cache's TTL (5 minutes).
  const installedApps = createInstalledApps({
    store: createInstalledAppsRepository(database),
    clock,
    maxEntries: config.deviceCacheSize,
  })
  const signer = createPayloadSigner(config.payloadSecret)
  const payloads = createPayloadReader(signer, config.legacyPayloads)
  const rewards = createRewardRepository(database.db, database.dialect)
  const postbackWorker = createPostbackWorker({
    outbox: rewards,
    transport: createUndiciTransport(dispatcher),
    clock,
    logger: app.log,
    timeoutMs: config.postbackTimeoutMs,
    pollMs: config.postbackPollMs,
  })
  postbackWorker.start()
  // Shutdown: stop claiming at once; deliveries in flight get most of the grace period, then are aborted
  // and their rows released. Awaited in onClose, which runs after the requests in flight have finished
  // and before the database closes (onClose hooks run in reverse order of registration).
  let closing = false
  let draining: Promise<void> = Promise.resolve()
  app.addHook('preClose', async () => {
    closing = true
    draining = postbackWorker.stop((config.shutdownGraceMs * 3) / 4)
  })
  app.addHook('onClose', () => draining)
  app.addHook('onSend', async (_request, reply) => {
    // Answers sent while closing end their keep-alive connection cleanly after the response.
    if (closing) reply.header('connection', 'close')
  })
  const events = createEventService({
    catalog,
    campaigns,
    payloads,
    devices: deviceCache,
    counters: counterMirror,
    // A report counter that cannot be written must not fail the event it counts.
    reports: {
      add: (increments) =>
        reportCounters.add(increments).catch((err) => app.log.warn({ err }, 'report counters not written')),
    },
    ledger: rewards,
    deviceLock: redis && redisKit ? redisKit.createRedisDeviceLock(redis.client, prefix) : undefined,
    clock,
    dailyCounterTtlSeconds: config.dailyCounterTtlSeconds,
    onPostback: () => void postbackWorker.kick(),
  })
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
  })
  const debugRequests = ['debug', 'trace'].includes(config.logLevel)
  app.addHook('onResponse', async (request, reply) => {
    metrics.requests.observe(
      { route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
    if (debugRequests)
      request.log.debug(
        { method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime },
        'request completed',
      )
  })
  const adNetworks = createAdNetworks({
    transport: createJsonTransport(dispatcher),
    deadlineMs: config.upstreamDeadlineMs,
    logger: app.log,
  })
  app.addHook('onClose', async () => adNetworks.close())
  const allocation = createAllocationService({
    upstream: adNetworks,
    installed: installedApps,
    catalog,
    clock,
    random: Math.random,
    devices: {
      load: deviceCache.load,
      peek: deviceCache.peek,
      // The explainer reads the store itself: its truth, and nothing gets cached or recorded.
      inspect: async (deviceId, now) => {
        const stored = await devices.loadDevice(deviceId, now - ACTIVITY_TTL_MS)
        return { ...stored, profile: stored.profile ?? null }
      },
    },
    campaigns,
    counters: counterMirror,
    deadlineMs: config.allocationDeadlineMs,
    onDeadline: (what) => {
      metrics.deadlineMisses.inc()
      deadlineMissed(what)
    },
  })
  const content = createContentService({
    configs: createContentConfigRepository(database.db, database.dialect, clock),
    catalog,
  })

  const readiness: ReadinessCheck = async () => {
    if (closing) return { ok: false, checks: { process: 'shutting down' } }
    const checks: Record<string, string> = {}
    await Promise.all(
      Object.entries(readinessChecks).map(async ([name, check]) => {
        checks[name] = await probe(check, READINESS_TIMEOUT_MS)
      }),
    )
    // Stale = the store has not been reached for a while (the snapshot itself may be older: unchanged).
    const age = clock() - catalog.checkedAt()
    checks.catalog = age < Math.max(60_000, config.catalogRefreshMs * 5) ? 'ok' : `stale (${age} ms)`
    return { ok: Object.values(checks).every((c) => c === 'ok'), checks }
  }
  await app.register(healthRoutes, { readiness })
  ops.register(healthRoutes, {
    readiness,
    metrics: async () => ({
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    }),
  })
  // Reach: each device's last-seen attributes go to the profile store (batched), a uniform sample stays here.
  const reach = createReach({
    store: devices,
    catalog,
    clock,
    sampleSize: config.reachSampleSize,
    refreshMs: config.reachRefreshMs,
    flushMs: config.reportFlushMs,
    logger: app.log,
  })
  reach.start()
  app.addHook('onClose', () => reach.stop())
  await app.register(allocationRoutes, {
    allocation,
    presenter: createAllocationPresenter({ signer, publicBaseUrl: config.publicBaseUrl }),
    onAllocated: (result, elapsedMs) => {
      tally.record(result, elapsedMs)
      reach.observe(result)
    },
  })
  await app.register(contentRoutes, { content })
  await app.register(installedAppsRoutes, { installedApps })
  // Per-device event rate limit (shared through Redis when configured; a Redis fault never blocks events).
  const rateLimit =
    config.eventRateLimitPerMinute > 0
      ? {
          max: config.eventRateLimitPerMinute,
          timeWindow: 60_000,
          hook: 'preHandler' as const,
          keyGenerator: eventRateKey,
          onExceeded: (request: FastifyRequest) =>
            metrics.rateLimited.inc({ route: request.routeOptions.url ?? 'unmatched' }),
        }
      : undefined
  await app.register(rateLimiter, {
    global: false,
    skipOnError: true,
    ...(redis ? { redis: redis.client, nameSpace: `${prefix}rl:` } : {}),
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new AllotError('RateLimited', `too many events from this device; retry in ${context.after}`),
        { statusCode: 429 },
      ),
  })
  await app.register(eventRoutes, { events, rateLimit })
  await app.register(adminRoutes, {
    prefix: '/admin',
    admin,
    adminToken: config.adminToken,
    postbacks: {
      list: rewards.list,
      get: rewards.get,
      retry: (id) => rewards.retry(id, clock()),
    },
    profiles: { getProfile: deviceCache.getProfile, putProfile: deviceCache.putProfile, clock },
    insight: {
      explain: allocation.explain,
      reports: createReportService({ counters: reportCounters, catalog, campaigns, clock }),
      reach,
    },
  })
}

/** The device an SDK event is about (body or query `device_id`), else the caller's address. */
function eventRateKey(request: FastifyRequest): string {
  const fields = { ...(request.query as object), ...(request.body as object) } as { device_id?: unknown }
  return typeof fields.device_id === 'string' ? `d:${fields.device_id}` : `ip:${request.ip}`
}

/**
 * Migrations may run long statements: on MySQL they get their own pool without the serving path's time
 * limits (SQLite has none, and a `:memory:` database exists only on its own connection).
 */
async function migrate(config: Config, database: SqlDatabase): Promise<void> {
  if (config.database.dialect === 'sqlite') {
    await migrateToLatest(database.db)
    return
  }
  const migrating = openDatabase(config.database)
  try {
    await migrateToLatest(migrating.db)
  } finally {
    await migrating.close()
  }
}

/**
 * The internal listener's app: /healthz, /readyz and /metrics (registered by the composition root) and the
 * public app's OpenAPI description at /docs and /docs/json, which lists every admin path and so stays off
 * the public port.
 */
function createOpsApp(app: FastifyInstance): FastifyInstance {
  const ops = Fastify({
    loggerInstance: app.log.child({ listener: 'ops' }),
    // Scrapes and probes every few seconds: not worth a log line each.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
  })
  installErrorHandler(ops)
  ops.register(async (docs) => {
    // The description is complete once the public app has registered its routes.
    await app.ready()
    // Served as generated (OpenAPI 3.1 types; the static mode's types know 3.0 only).
    const document = app.swagger() as StaticDocumentSpec['document']
    await docs.register(swagger, { mode: 'static', specification: { document } })
    await docs.register(swaggerUi, { routePrefix: '/docs' })
  })
  return ops
}

/** A check's state within `timeoutMs`: 'ok', 'unreachable' or 'timeout'. */
function probe(check: () => Promise<unknown>, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs)
  })
  const answer = check().then(
    () => 'ok',
    (err) => (err instanceof DependencyUnavailable && err.reason === 'timeout' ? 'timeout' : 'unreachable'),
  )
  return Promise.race([answer, late]).finally(() => clearTimeout(timer))
}

/** A warn logger that writes the first occurrence of each kind, then a count once per 10 s. */
function throttledWarn(log: FastifyInstance['log'], msg: string): (what: string, err?: unknown) => void {
  const counts = new Map<string, number>()
  return (what, err) => {
    const seen = counts.get(what) ?? 0
    counts.set(what, seen + 1)
    if (seen > 0) return
    log.warn({ what, err }, msg)
    setTimeout(() => {
      const more = (counts.get(what) ?? 1) - 1
      counts.delete(what)
      if (more > 0) log.warn({ what, count: more }, `${msg} (again, in the last 10 s)`)
    }, 10_000).unref()
  }
}

async function loadRedisKit() {
  const [redis, pubsub, deviceCache, deviceLock] = await Promise.all([
    import('./infra/redis/redis.js'),
    import('./infra/redis/pubsub.js'),
    import('./repositories/redis-device-cache.repository.js'),
    import('./repositories/redis-device-lock.repository.js'),
  ])
  return {
    openRedis: redis.openRedis,
    redisChannel: pubsub.redisChannel,
    createRedisDeviceCache: deviceCache.createRedisDeviceCache,
    createRedisDeviceLock: deviceLock.createRedisDeviceLock,
  }
}

async function loadDynamoKit() {
  const [dynamo, repository] = await Promise.all([
    import('./infra/dynamodb/dynamodb.js'),
    import('./repositories/dynamodb-device.repository.js'),
  ])
  return {
    openDynamo: dynamo.openDynamo,
    ensureDeviceTable: dynamo.ensureDeviceTable,
    createDynamoDeviceRepository: repository.createDynamoDeviceRepository,
  }
}
