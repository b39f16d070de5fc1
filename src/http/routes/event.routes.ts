import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AllotError } from '../../domain/errors.js'
import type { EventService } from '../../services/event.service.js'
import { errorResponses } from '../dto/common.dto.js'
import {
  ClickQuerySchema,
  ImpressionQuerySchema,
  ImpressionResponseSchema,
  StayRewardRequestSchema,
  UnlockRequestSchema,
  UnlockResponseSchema,
} from '../dto/event.dto.js'
import {
  landingRequestFromDto,
  stayRewardRequestFromDto,
  unlockRequestFromDto,
} from '../presenters/event.presenter.js'

/** The SDK events a device's rate is kept for, each in its own window. */
export type EventKind = 'unlock' | 'landing' | 'reward' | 'impression'

/**
 * Counts this request toward its rate for `kind` and says whether it is over: `device` (the device it names
 * is over its limit), `address` (it names no device and its client address is over the ceiling for such
 * requests) or false.
 */
export type EventLimiter = (request: FastifyRequest, kind: EventKind) => Promise<false | 'device' | 'address'>

type Deps = {
  events: EventService
  limiter?: EventLimiter | undefined
  /** Told what each event did (its kind and the outcome its answer reports), for the event metrics. */
  onOutcome?: ((kind: EventKind, outcome: string) => void) | undefined
}

/** What a refused event asks the SDK to wait (seconds): the rate's window. */
const RATE_WINDOW_SECONDS = 60

/** v1 answers a stay reward with an empty body. */
const EmptyBody = Type.Unsafe<undefined>({ description: 'empty body' })

/**
 * The SDK's event endpoints (docs/architecture.md §W5, §W6, §W8, §W9): unlocks, landings, stay rewards,
 * impressions.
 */
export async function eventRoutes(
  fastify: FastifyInstance,
  { events, limiter, onOutcome = () => {} }: Deps,
): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const tags = ['sdk']
  /**
   * Over their rate, unlocks and stay rewards are refused (429); so is any event that names no device. A
   * landing or a beacon of a device over its rate is answered as usual (the user lands; the SDK gets v1's
   * 200), counted and paid nothing.
   */
  const overRate = async (request: FastifyRequest, reply: FastifyReply, kind: EventKind) => {
    const over = limiter ? await limiter(request, kind) : false
    if (over === 'address' || (over === 'device' && (kind === 'unlock' || kind === 'reward'))) {
      reply.header('retry-after', String(RATE_WINDOW_SECONDS))
      throw new AllotError('RateLimited', 'too many events from this device; retry in a minute')
    }
    return over === 'device'
  }
  const refuseOverRate = (kind: EventKind) => async (request: FastifyRequest, reply: FastifyReply) => {
    await overRate(request, reply, kind)
  }

  // v1 registers the unlock under both names, and the landing with an `external` twin.
  for (const path of ['/api/impression/', '/api/unlock'])
    app.post(
      path,
      {
        preHandler: refuseOverRate('unlock'),
        schema: {
          tags,
          body: UnlockRequestSchema,
          response: { 200: UnlockResponseSchema, ...errorResponses },
        },
      },
      async (request) => {
        const received = await events.unlock(unlockRequestFromDto(request.body))
        onOutcome('unlock', received > 0 ? 'granted' : 'none')
        return { reward_received: received }
      },
    )

  for (const path of ['/api/click_redirect/', '/api/external/click_redirect/'])
    app.get(
      path,
      { schema: { tags, querystring: ClickQuerySchema, response: errorResponses } },
      async (request, reply) => {
        // Over its rate a device still lands (a phone's browser shows the answer), uncounted and unpaid.
        const context = { limited: await overRate(request, reply, 'landing') }
        const { location, outcome } = await events.landing(landingRequestFromDto(request.query), context)
        onOutcome('landing', outcome)
        return reply
          .header('x-allot-reward', outcome)
          .header('cache-control', 'no-store')
          .redirect(location, 302)
      },
    )

  app.post(
    '/api/rewards',
    {
      preHandler: refuseOverRate('reward'),
      schema: { tags, body: StayRewardRequestSchema, response: { 200: EmptyBody, ...errorResponses } },
    },
    async (request, reply) => {
      await events.stayReward(stayRewardRequestFromDto(request.body))
      onOutcome('reward', 'granted')
      return reply.status(200).send(undefined)
    },
  )

  app.get(
    '/api/content_impression/',
    {
      schema: {
        tags,
        querystring: ImpressionQuerySchema,
        response: { 200: ImpressionResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      // v1's answer whatever happened (an SDK never retries a beacon); the header says what was counted.
      const context = { limited: await overRate(request, reply, 'impression') }
      const outcome = await events.impression(request.query.data, context)
      onOutcome('impression', outcome)
      return reply.header('x-allot-counted', outcome).send({ msg: 'ok' as const, status: 200 as const })
    },
  )
}
