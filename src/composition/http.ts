import formbody from '@fastify/formbody'
import swagger, { type StaticDocumentSpec } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance, LogController } from 'fastify'
import type { Config } from '../config/config.js'
import { installErrorHandler } from '../http/error-handler.js'
import { plainDecimalNumbers } from '../http/validation.js'

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
      info: {
        title: 'Allot',
        description: 'Lockscreen allocation service: the v1 SDK paths and the admin API',
        version: '0.1.0',
      },
      components: { securitySchemes: { admin: { type: 'http', scheme: 'bearer' } } },
    },
  })
  const ops = createOpsApp(app)
  app.addHook('onClose', () => ops.close())
  return { ops }
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
