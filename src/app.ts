import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, LogController } from 'fastify'
import fp from 'fastify-plugin'
import type { Dispatcher } from 'undici'
import { openInfrastructure } from './composition/infrastructure.js'
import { createRepositories } from './composition/repositories.js'
import { prepareHttp, registerRoutes } from './composition/routes.js'
import { createServices } from './composition/services.js'
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
  /** Outbound HTTP dispatcher (tests pass an undici MockAgent); defaults to undici's global one. */
  dispatcher?: Dispatcher
  /** The built dashboard served at /dashboard; defaults to what `npm run build` writes (dist/dashboard). */
  dashboardDir?: string
}

/** dist/dashboard beside src/ and dist/: the same directory whether this file runs compiled or through tsx. */
const BUILT_DASHBOARD = fileURLToPath(new URL('../dist/dashboard/', import.meta.url))

/** Builds Allot without listening: tests call this and use `app.inject`. */
export async function createApp({
  config,
  clock = Date.now,
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
    routerOptions: { ignoreTrailingSlash: true },
    ajv: {
      // No array coercion: `device_id=[5]` is not the id 5.
      customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false },
    },
  })
  await app.register(allot, { config, clock, dispatcher, dashboardDir })
  return app
}

/**
 * The composition root as a plain Fastify plugin, in four steps (each in src/composition/): open the
 * infrastructure clients, create the repositories over them, create the services over those, register the
 * routes. Steps 1–3 register their closes with the app as they go, so closing runs them in reverse.
 */
export const allot = fp(wire, { name: 'allot' })

async function wire(
  app: FastifyInstance,
  { config, clock, dispatcher, dashboardDir }: AppOptions & { clock: () => number; dashboardDir: string },
): Promise<void> {
  const { ops } = await prepareHttp(app, config)
  app.decorate('ops', ops)
  const infra = await openInfrastructure(app, config)
  const repositories = await createRepositories(infra, config, clock)
  const services = await createServices(app, { config, clock, dispatcher }, repositories, infra)
  await registerRoutes(app, ops, config, services, infra, { dashboardDir })
}
