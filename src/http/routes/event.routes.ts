import type { RateLimitOptions } from '@fastify/rate-limit'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { EventService } from '../../services/event.service.js'
import { errorResponses } from '../dto/common.dto.js'
import {
  type ClickQueryDto,
  ClickQuerySchema,
  type ImpressionQueryDto,
  ImpressionQuerySchema,
  ImpressionResponseSchema,
  landingRequestFromDto,
  type StayRewardRequestDto,
  StayRewardRequestSchema,
  stayRewardRequestFromDto,
  type UnlockRequestDto,
  UnlockRequestSchema,
  UnlockResponseSchema,
  unlockRequestFromDto,
} from '../dto/event.dto.js'

/** Per-route rate-limit settings (@fastify/rate-limit), applied to every event route when given. */
export type EventRateLimit = RateLimitOptions

type Deps = { events: EventService; rateLimit?: EventRateLimit | undefined }

/** The SDK's event endpoints (SDK-CONTRACT §5, §6, §8, §9): unlocks, landings, stay rewards, impressions. */
export async function eventRoutes(app: FastifyInstance, { events, rateLimit }: Deps): Promise<void> {
  const tags = ['sdk']
  const config: { rateLimit: RateLimitOptions | false } = { rateLimit: rateLimit ?? false }
  const unlock = {
    config,
    schema: { tags, body: UnlockRequestSchema, response: { 200: UnlockResponseSchema, ...errorResponses } },
  }
  const handleUnlock = async (request: { body: unknown }) => ({
    reward_received: await events.unlock(unlockRequestFromDto(request.body as UnlockRequestDto)),
  })
  // v1 registers the unlock under both names.
  app.post('/api/impression/', unlock, handleUnlock)
  app.post('/api/unlock', unlock, handleUnlock)

  const click = { config, schema: { tags, querystring: ClickQuerySchema, response: errorResponses } }
  const handleClick = async (request: { query: unknown }, reply: FastifyReply) => {
    const { location, outcome } = await events.landing(landingRequestFromDto(request.query as ClickQueryDto))
    return reply.header('x-allot-reward', outcome).header('cache-control', 'no-store').redirect(location, 302)
  }
  app.get('/api/click_redirect/', click, handleClick)
  app.get('/api/external/click_redirect/', click, handleClick)

  app.post(
    '/api/rewards',
    { schema: { tags, body: StayRewardRequestSchema, response: { 200: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      await events.stayReward(stayRewardRequestFromDto(request.body as StayRewardRequestDto))
      return reply.status(200).send()
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
      const outcome = await events.impression((request.query as ImpressionQueryDto).data)
      return reply.header('x-allot-counted', outcome).send({ msg: 'ok', status: 200 })
    },
  )
}
