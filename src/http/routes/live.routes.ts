import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { errorResponses } from '../dto/common.dto.js'
import { type LiveFigures, LiveSchema, liveToDto } from '../dto/live.dto.js'

/** `GET /admin/live` (registered inside the admin scope): the dashboard's live panel. */
export async function liveRoutes(fastify: FastifyInstance, { live }: { live: () => Promise<LiveFigures> }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/live',
    {
      schema: {
        tags: ['insight'],
        summary:
          "This process's allocation, device-cache, postback and upstream figures since it started, read from the registry /metrics exposes",
        response: { 200: LiveSchema, ...errorResponses },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'no-store')
      return liveToDto(await live())
    },
  )
}
