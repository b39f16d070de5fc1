import type { FastifyInstance } from 'fastify'
import type { EventService } from '../../services/event.service.js'
import { errorResponses } from '../dto/common.dto.js'
import {
  type ClickQueryDto,
  ClickQuerySchema,
  type ImpressionRequestDto,
  ImpressionRequestSchema,
  ImpressionResponseSchema,
} from '../dto/event.dto.js'

type Deps = { events: EventService }

/** The SDK's event endpoints (DESIGN §3): impressions, unlocks and landings. */
export async function eventRoutes(app: FastifyInstance, { events }: Deps): Promise<void> {
  app.post(
    '/api/impression/',
    {
      schema: {
        tags: ['sdk'],
        body: ImpressionRequestSchema,
        response: { 200: ImpressionResponseSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { click_type, ...event } = request.body as ImpressionRequestDto
      if (click_type === 'u') {
        const { rewards } = await events.unlock(event)
        return { code: 0, msg: 'ok', counted: false, rewards }
      }
      await events.impression(event)
      return { code: 0, msg: 'ok', counted: true, rewards: [] }
    },
  )

  app.get(
    '/api/click_redirect/',
    { schema: { tags: ['sdk'], querystring: ClickQuerySchema, response: errorResponses } },
    async (request, reply) => {
      const { location, reward } = await events.click(request.query as ClickQueryDto)
      const granted = typeof reward === 'object' ? `granted ${reward.transaction_id}` : reward
      return reply
        .header('x-allot-reward', granted)
        .header('cache-control', 'no-store')
        .redirect(location, 302)
    },
  )
}
