import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, LogController } from 'fastify'
import fp from 'fastify-plugin'
import type { Dispatcher } from 'undici'
import { allocationModule } from './composition/allocation.module.js'
import { catalogModule } from './composition/catalog.module.js'
import { createCore } from './composition/core.js'
import { devicesModule } from './composition/devices.module.js'
import { eventsModule } from './composition/events.module.js'
import { healthModule } from './composition/health.module.js'
import { prepareHttp } from './composition/http.js'
import { openInfrastructure } from './composition/infrastructure.js'
import { insightModule } from './composition/insight.module.js'
import { createRepositories } from './composition/repositories.js'
import type { Config } from './config/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The internal listener's app: /metrics, /docs and /docs/json, plus /healthz and /readyz. Built with
     * the public app and closed with it; src/server.ts listens on it at OPS_HOST:OPS_PORT.
     */
    ops: FastifyInstance
  }
}

export type AppOptions = {
  config: Config
  /** Injectable for tests; defaults to Date.now. */
  clock?: () => number
  /** Injectable for tests (a seeded source makes answers repeatable); defaults to Math.random. */
  random?: () => number
  /** Outbound HTTP dispatcher (tests pass an undici MockAgent); defaults to undici's global one. */
  dispatcher?: Dispatcher
  /** The built dashboard served at /dashboard; defaults to what `npm run build` writes (dist/dashboard). */
  dashboardDir?: string
}

/** dist/dashboard beside src/ and dist/: the same directory whether this file runs compiled or through tsx. */
const BUILT_DASHBOARD = fileURLToPath(new URL('../dist/dashboard/', import.meta.url))

/** The longest the app may take to wire itself, catalog load included, before the boot fails. */
const BOOT_TIMEOUT_MS = 120_000

/** Builds Allot without listening: tests call this and use `app.inject`. */
export async function createApp({
  config,
  clock = Date.now,
  random = Math.random,
  dispatcher,
  dashboardDir = BUILT_DASHBOARD,
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
    // The app's plugin loads the catalog before it is ready; Fastify's default of 10 s failed the boot of a
    // 100,000-campaign catalog on a busy 2-core machine. Each store call has its own timeout.
    pluginTimeout: BOOT_TIMEOUT_MS,
    routerOptions: { ignoreTrailingSlash: true },
    ajv: {
      // No array coercion: `device_id=[5]` is not the id 5.
      customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false },
    },
  })
  await app.register(allot, { config, clock, random, dispatcher, dashboardDir })
  return app
}

/**
 * The composition root as a plain Fastify plugin: the HTTP basics, the infrastructure clients, the
 * repositories over them, then the feature modules in the order they use each other (src/composition/*.module.ts).
 * Each module builds its services, starts and stops its own background work and registers its own routes;
 * everything registers its close with the app as it goes, so closing runs in reverse.
 */
const allot = fp(wire, { name: 'allot' })

async function wire(
  app: FastifyInstance,
  {
    config,
    clock,
    random,
    dispatcher,
    dashboardDir,
  }: AppOptions & { clock: () => number; random: () => number; dashboardDir: string },
): Promise<void> {
  const { ops } = await prepareHttp(app, config)
  app.decorate('ops', ops)
  const infra = await openInfrastructure(app, config)
  const repos = await createRepositories(infra, config, clock)
  const core = createCore(app, { config, clock, random, dispatcher })
  const { catalog } = await catalogModule(app, core, repos, infra)
  const devices = await devicesModule(app, core, repos, infra)
  const insight = await insightModule(app, core, repos, { catalog, dashboardDir })
  const events = await eventsModule(app, core, repos, infra, {
    catalog,
    devices: devices.devices,
    reports: insight.tally,
  })
  await allocationModule(app, core, repos, { catalog, devices, events, insight })
  await healthModule(app, ops, core, infra, { catalog })
}
