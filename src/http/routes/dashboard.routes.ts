import { existsSync } from 'node:fs'
import { join } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply } from 'fastify'

/**
 * The page holds no data (every figure comes from an /admin call with the token the user types), so it is
 * served without the token; scripts and styles from this origin only, nothing inline, no framing.
 */
const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

/**
 * `GET /dashboard`: the live dashboard's page and its bundled assets (built by `npm run build` into `dir`),
 * precompressed (.br, .gz) for clients that accept them. Without a build, a 503 that says how to make one.
 */
export async function dashboardRoutes(app: FastifyInstance, { dir }: { dir: string }): Promise<void> {
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', DASHBOARD_CSP)
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('cache-control', 'no-cache')
  })
  if (!existsSync(join(dir, 'index.html'))) {
    const notBuilt = async (_request: unknown, reply: FastifyReply) =>
      reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send(`The dashboard is not built (no ${join(dir, 'index.html')}): run npm run build.\n`)
    app.get('/dashboard', { schema: { hide: true } }, notBuilt)
    app.get('/dashboard/*', { schema: { hide: true } }, notBuilt)
    return
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/dashboard/',
    preCompressed: true,
    index: false,
    // Revalidated on every load (cache-control above): a new build is seen at once.
    cacheControl: false,
    schemaHide: true,
  })
  app.get('/dashboard', { schema: { hide: true } }, (_request, reply) => reply.sendFile('index.html'))
}
