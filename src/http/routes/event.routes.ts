import type { RateLimitOptions } from '@fastify/rate-limit'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { EventService } from '../../services/event.service.js'
import { errorResponses } from '../dto/common.dto.js'
import {
  ClickQuerySchema,
  ImpressionQuerySchema,
  ImpressionResponseSchema,
  landingRequestFromDto,
  StayRewardRequestSchema,
  stayRewardRequestFromDto,
  UnlockRequestSchema,
  UnlockResponseSchema,
  unlockRequestFromDto,
} from '../dto/event.dto.js'

/** Per-route rate-limit settings (@fastify/rate-limit), applied to every event route when given. */
export type EventRateLimit = RateLimitOptions

type Deps = { events: EventService; rateLimit?: EventRateLimit | undefined }

/** v1 answers a stay reward with an empty body. */
const EmptyBody = Type.Unsafe<undefined>({ description: 'empty body' })

/** The SDK's event endpoints (SDK-CONTRACT §5, §6, §8, §9): unlocks, landings, stay rewards, impressions. */
export async function eventRoutes(fastify: FastifyInstance, { events, rateLimit }: Deps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const tags = ['sdk']
  const config: { rateLimit: RateLimitOptions | false } = { rateLimit: rateLimit ?? false }
  // v1 registers the unlock under both names, and the landing with an `external` twin.
  for (const path of ['/api/impression/', '/api/unlock'])
    app.post(
      path,
      {
        config,
        schema: {
          tags,
          body: UnlockRequestSchema,
          response: { 200: UnlockResponseSchema, ...errorResponses },
        },
      },
      async (request) => ({ reward_received: await events.unlock(unlockRequestFromDto(request.body)) }),
    )

  for (const path of ['/api/click_redirect/', '/api/external/click_redirect/'])
    app.get(
      path,
      { config, schema: { tags, querystring: ClickQuerySchema, response: errorResponses } },
      async (request, reply) => {
        const { location, outcome } = await events.landing(landingRequestFromDto(request.query))
        return reply
          .header('x-allot-reward', outcome)
          .header('cache-control', 'no-store')
          .redirect(location, 302)
      },
    )

  app.post(
    '/api/rewards',
    {
      config,
      schema: { tags, body: StayRewardRequestSchema, response: { 200: EmptyBody, ...errorResponses } },
    },
    async (request, reply) => {
      await events.stayReward(stayRewardRequestFromDto(request.body))
      return reply.status(200).send(undefined)
    },
  )

  app.get(
    '/api/content_impression/',
    {
      config,
      schema: {
        tags,
        querystring: ImpressionQuerySchema,
        response: { 200: ImpressionResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const outcome = await events.impression(request.query.data)
      return reply.header('x-allot-counted', outcome).send({ msg: 'ok' as const, status: 200 as const })
    },
  )
}
