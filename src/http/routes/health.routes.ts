import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'

export type ReadinessCheck = () => Promise<{ ok: boolean; checks: Record<string, string> }>

type Deps = { readiness: ReadinessCheck }

const HealthSchema = Type.Object({
  status: Type.String(),
  checks: Type.Optional(Type.Record(Type.String(), Type.String())),
})

/** `/healthz` (the process is up) and `/readyz` (its dependencies answer and the catalog is loaded). */
export async function healthRoutes(app: FastifyInstance, { readiness }: Deps): Promise<void> {
  app.get('/healthz', { schema: { tags: ['ops'], response: { 200: HealthSchema } } }, async () => ({
    status: 'ok',
  }))
  app.get(
    '/readyz',
    { schema: { tags: ['ops'], response: { 200: HealthSchema, 503: HealthSchema } } },
    async (_request, reply) => {
      const { ok, checks } = await readiness()
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks })
    },
  )
}
