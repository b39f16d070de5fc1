import compress from '@fastify/compress'
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
  // Every answer's hooks take a callback: an async hook costs each answer a promise and a microtask hop.
  app.addHook('onSend', (request, reply, _payload, done) => {
    reply.header('x-request-id', request.id)
    done()
  })
  // The SDK sends JSON or form bodies; anything else (text/plain included) is a 415, not a confusing 400.
  app.removeContentTypeParser('text/plain')
  await app.register(formbody, { bodyLimit: config.bodyLimitBytes })
  if (config.responseCompression === 'gzip') await compressJsonAnswers(app)
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

/** Answers smaller than this are sent as they are (nginx's `gzip_min_length` in deploy/nginx/allot.conf). */
const COMPRESS_MIN_BYTES = 1024

/**
 * RESPONSE_COMPRESSION=gzip, for Allot without nginx in front: answers of 1 KiB or more go gzipped at level 1
 * to clients that accept gzip (a 34 KB allocation answer becomes about 3 KB for some 0.1 ms of CPU), as nginx
 * does at the edge. That is JSON, and the admin CSV report too (the plugin compresses every type mime-db
 * calls compressible); the dashboard's files already come pre-compressed and pass through. Request bodies
 * are left alone (the SDK never compresses them; installed apps come zlib'd inside a form field).
 */
async function compressJsonAnswers(app: FastifyInstance): Promise<void> {
  await app.register(compress, {
    encodings: ['gzip'],
    zlibOptions: { level: 1 },
    threshold: COMPRESS_MIN_BYTES,
    // In one call on the event loop up to 64 KiB (every allocation answer seen): cheaper than a zlib
    // stream's setup and thread-pool round trip at this level, and the length is known (no chunking).
    syncThreshold: 64 * 1024,
    globalDecompression: false,
  })
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
