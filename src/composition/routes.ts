import formbody from '@fastify/formbody'
import rateLimiter from '@fastify/rate-limit'
import swagger, { type StaticDocumentSpec } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance, type FastifyRequest, LogController } from 'fastify'
import type { Config } from '../config/config.js'
import { AllotError } from '../domain/errors.js'
import { installErrorHandler } from '../http/error-handler.js'
import { createAllocationPresenter } from '../http/presenters/allocation.presenter.js'
import { adminRoutes } from '../http/routes/admin.routes.js'
import { allocationRoutes } from '../http/routes/allocation.routes.js'
import { contentRoutes } from '../http/routes/content.routes.js'
import { dashboardRoutes } from '../http/routes/dashboard.routes.js'
import { eventRoutes } from '../http/routes/event.routes.js'
import { healthRoutes } from '../http/routes/health.routes.js'
import { installedAppsRoutes } from '../http/routes/installed-apps.routes.js'
import { plainDecimalNumbers } from '../http/validation.js'
import type { Infrastructure } from './infrastructure.js'
import type { Services } from './services.js'

/**
 * Before anything else: error handling, strict numbers, body parsers, OpenAPI (it must see every route),
 * and the ops listener's app (/metrics, /docs, /healthz, /readyz), whose close is registered first so it
 * runs last: /readyz says "shutting down" until the very end. The ops app comes back wrapped: a Fastify
 * instance is a thenable, and an async function returning it would wait for it to be ready, which waits for
 * the public app, which is still loading this plugin.
 */
export async function prepareHttp(app: FastifyInstance, config: Config): Promise<{ ops: FastifyInstance }> {
  installErrorHandler(app)
  plainDecimalNumbers(app)
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  // The SDK sends JSON or form bodies; anything else (text/plain included) is a 415, not a confusing 400.
  app.removeContentTypeParser('text/plain')
  await app.register(formbody, { bodyLimit: config.bodyLimitBytes })
  await app.register(swagger, {
    openapi: {
      info: { title: 'Allot', description: 'Lockscreen allocation service (DESIGN §3)', version: '0.1.0' },
      components: { securitySchemes: { admin: { type: 'http', scheme: 'bearer' } } },
    },
  })
  const ops = createOpsApp(app)
  app.addHook('onClose', () => ops.close())
  return { ops }
}

/** Step 4: the public routes (SDK, admin) on `app`, probes and metrics on both listeners. */
export async function registerRoutes(
  app: FastifyInstance,
  ops: FastifyInstance,
  config: Config,
  services: Services,
  infra: Infrastructure,
  { dashboardDir }: { dashboardDir: string },
): Promise<void> {
  const { metrics } = services
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
  app.addHook('onSend', async (_request, reply) => {
    // Answers sent while closing end their keep-alive connection cleanly after the response.
    if (services.closing()) reply.header('connection', 'close')
  })

  await app.register(healthRoutes, { readiness: services.readiness })
  ops.register(healthRoutes, {
    readiness: services.readiness,
    metrics: async () => ({
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    }),
  })

  await app.register(allocationRoutes, {
    allocation: services.allocation,
    presenter: createAllocationPresenter({ signer: services.signer, publicBaseUrl: config.publicBaseUrl }),
    onAllocated: services.onAllocated,
  })
  await app.register(contentRoutes, { content: services.content })
  await app.register(installedAppsRoutes, { installedApps: services.installedApps })
  await registerEventRoutes(app, config, services, infra.redis)
  await app.register(adminRoutes, {
    prefix: '/admin',
    admin: services.admin,
    adminToken: config.adminToken,
    postbacks: services.postbacks,
    profiles: services.profiles,
    insight: { explain: services.allocation.explain, reports: services.reports, reach: services.reach },
    live: services.live,
  })
  // The page is public (it holds no data); what it shows comes from the /admin calls above.
  await app.register(dashboardRoutes, { dir: dashboardDir })
}

/** SDK events behind a per-device rate limit (shared through Redis when configured; a Redis fault never blocks events). */
async function registerEventRoutes(
  app: FastifyInstance,
  config: Config,
  services: Services,
  redis: Infrastructure['redis'],
): Promise<void> {
  const rateLimit =
    config.eventRateLimitPerMinute > 0
      ? {
          max: config.eventRateLimitPerMinute,
          timeWindow: 60_000,
          hook: 'preHandler' as const,
          keyGenerator: eventRateKey,
          onExceeded: (request: FastifyRequest) =>
            services.metrics.rateLimited.inc({ route: request.routeOptions.url ?? 'unmatched' }),
        }
      : undefined
  await app.register(rateLimiter, {
    global: false,
    skipOnError: true,
    ...(redis ? { redis: redis.connection.client, nameSpace: `${redis.prefix}rl:` } : {}),
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new AllotError('RateLimited', `too many events from this device; retry in ${context.after}`),
        { statusCode: 429 },
      ),
  })
  await app.register(eventRoutes, { events: services.events, rateLimit })
}

/** The device an SDK event is about (body or query `device_id`), else the caller's address. */
function eventRateKey(request: FastifyRequest): string {
  const fields = { ...(request.query as object), ...(request.body as object) } as { device_id?: unknown }
  return typeof fields.device_id === 'string' ? `d:${fields.device_id}` : `ip:${request.ip}`
}

/**
 * The internal listener's app: /healthz, /readyz and /metrics (registered above) and the public app's
 * OpenAPI description at /docs and /docs/json, which lists every admin path and so stays off the public port.
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
