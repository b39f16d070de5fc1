import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import type { LiveSnapshot } from '../../domain/fleet.js'
import type { FleetView } from '../../services/fleet.service.js'
import { errorResponses } from '../dto/common.dto.js'
import { LiveSchema } from '../dto/live.dto.js'
import { liveToDto } from '../presenters/live.presenter.js'

/** `GET /admin/live` (registered inside the admin scope): the dashboard's live panel. */
export async function liveRoutes(
  fastify: FastifyInstance,
  { live, fleet }: { live: () => Promise<LiveSnapshot>; fleet: () => Promise<FleetView> },
) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/live',
    {
      schema: {
        tags: ['insight'],
        summary:
          "This process's allocation, device-cache, postback and upstream counters since it started (read from the registry /metrics exposes), and the whole fleet's figures over the last window with each instance's",
        response: { 200: LiveSchema, ...errorResponses },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'no-store')
      const [figures, view] = await Promise.all([live(), fleet()])
      return liveToDto(figures, view)
    },
  )
}
