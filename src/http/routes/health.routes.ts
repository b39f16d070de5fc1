import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'

export type ReadinessCheck = () => Promise<{
  ok: boolean
  checks: Record<string, string>
  degraded: string[]
}>

/** Prometheus exposition of this process's metrics. */
export type MetricsSource = () => Promise<{ contentType: string; body: string }>

type Deps = { readiness: ReadinessCheck; metrics?: MetricsSource }

const HealthSchema = Type.Object({
  status: Type.String(),
  checks: Type.Optional(Type.Record(Type.String(), Type.String())),
  degraded: Type.Optional(
    Type.Array(Type.String(), { description: 'dependencies the process serves without right now (redis)' }),
  ),
})

/** `/healthz` (the process is up), `/readyz` (dependencies answer, catalog loaded) and `/metrics`. */
export async function healthRoutes(app: FastifyInstance, { readiness, metrics }: Deps): Promise<void> {
  if (metrics) {
    app.get('/metrics', async (_request, reply) => {
      const { contentType, body } = await metrics()
      return reply.type(contentType).send(body)
    })
  }
  app.get('/healthz', { schema: { tags: ['ops'], response: { 200: HealthSchema } } }, async () => ({
    status: 'ok',
  }))
  app.get(
    '/readyz',
    { schema: { tags: ['ops'], response: { 200: HealthSchema, 503: HealthSchema } } },
    async (_request, reply) => {
      const { ok, checks, degraded } = await readiness()
      const status = !ok ? 'not ready' : degraded.length > 0 ? 'degraded' : 'ready'
      return reply.status(ok ? 200 : 503).send({ status, checks, degraded })
    },
  )
}
