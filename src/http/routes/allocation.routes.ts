import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type {
  Allocation,
  AllocationRequest,
  AllocationService,
  Explanation,
} from '../../services/allocation.service.js'
import {
  AllocationRequestSchema,
  AllocationResponseText,
  ContentAllocationRequestSchema,
  ContentAllocationResponseText,
} from '../dto/allocation.dto.js'
import { errorResponses } from '../dto/common.dto.js'
import { ExplainRequestSchema, ExplanationSchema } from '../dto/insight.dto.js'
import { optionalIdOf } from '../numbers.js'
import { type AllocationPresenter, allocationRequestFromDto } from '../presenters/allocation.presenter.js'
import { explainRequestFromDto, explanationToDto } from '../presenters/insight.presenter.js'

type Deps = {
  allocation: AllocationService
  presenter: AllocationPresenter
  /** Told of every answer and how long it took (ms): the delivery report's tally (no I/O). */
  onAllocated?: ((allocation: Allocation, elapsedMs: number) => void) | undefined
}

const JSON_TYPE = 'application/json; charset=utf-8'

/** The allocation endpoints' route URLs (the `route` label of their request metrics). */
export const ALLOCATION_ROUTES = ['/api/allocation/', '/api/content_allocation/'] as const

/** The SDK's allocation endpoints (docs/architecture.md §W2–§W4), with and without the trailing slash. */
export async function allocationRoutes(
  fastify: FastifyInstance,
  { allocation, presenter, onAllocated }: Deps,
): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.post(
    ALLOCATION_ROUTES[0],
    {
      schema: {
        tags: ['sdk'],
        body: AllocationRequestSchema,
        response: { 200: AllocationResponseText, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = allocationRequestFromDto(request.body)
      const result = await allocation.allocate(body)
      // The presenter renders JSON text itself (items are pre-rendered per campaign); the schema documents it.
      const text = presenter.allocation(result)
      onAllocated?.(result, reply.elapsedTime)
      return sendAnswer(reply, presenter, text)
    },
  )
  app.post(
    ALLOCATION_ROUTES[1],
    {
      schema: {
        tags: ['sdk'],
        body: ContentAllocationRequestSchema,
        response: { 200: ContentAllocationResponseText, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = allocationRequestFromDto(request.body)
      const result = await allocation.allocateContents(body)
      const text = presenter.contentAllocation(result)
      onAllocated?.(result, reply.elapsedTime)
      return sendAnswer(reply, presenter, text)
    },
  )
}

/**
 * Sends an answer the presenter wrote, and gives its memory back once the response is done. A response emits
 * 'close' once: after its last byte went to the socket (or through gzip), or when the connection went away,
 * whose unsent writes are then dropped; never while a write still reads the answer. (A gzip stream cut off by
 * a closed connection may still read it in zlib's thread: what it makes of it goes nowhere.)
 */
function sendAnswer(reply: FastifyReply, presenter: AllocationPresenter, answer: Buffer): FastifyReply {
  reply.raw.once('close', () => presenter.release(answer))
  return reply.type(JSON_TYPE).send(answer)
}

/** `POST /admin/explain` (registered inside the admin scope): allocation's own decision, campaign by campaign. */
export async function explainRoutes(
  fastify: FastifyInstance,
  { explain }: { explain(request: AllocationRequest, campaignId?: number): Promise<Explanation> },
): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.post(
    '/explain',
    {
      schema: {
        tags: ['insight'],
        summary:
          'Why a device gets (or does not get) each campaign: what allocation would decide, rule by rule',
        body: ExplainRequestSchema,
        response: { 200: ExplanationSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { request: fields, campaignId } = explainRequestFromDto(request.body)
      const parsed = allocationRequestFromDto(fields)
      const explanation = await explain(parsed, optionalIdOf('campaign_id', campaignId))
      return explanationToDto(explanation, parsed.device_id, fields)
    },
  )
}
