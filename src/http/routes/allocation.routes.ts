import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import type { AllocationService } from '../../services/allocation.service.js'
import {
  AllocationRequestSchema,
  AllocationResponseText,
  allocationRequestFromDto,
  ContentAllocationRequestSchema,
  ContentAllocationResponseText,
} from '../dto/allocation.dto.js'
import { errorResponses } from '../dto/common.dto.js'
import type { AllocationPresenter } from '../presenters/allocation.presenter.js'

type Deps = { allocation: AllocationService; presenter: AllocationPresenter }

const JSON_TYPE = 'application/json; charset=utf-8'

/** The SDK's allocation endpoints (SDK-CONTRACT §2–§4), with and without the trailing slash. */
export async function allocationRoutes(
  fastify: FastifyInstance,
  { allocation, presenter }: Deps,
): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.post(
    '/api/allocation/',
    {
      schema: {
        tags: ['sdk'],
        body: AllocationRequestSchema,
        response: { 200: AllocationResponseText, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = allocationRequestFromDto(request.body)
      // The presenter renders JSON text itself (items are pre-rendered per campaign); the schema documents it.
      return reply.type(JSON_TYPE).send(presenter.allocation(await allocation.allocate(body)))
    },
  )
  app.post(
    '/api/content_allocation/',
    {
      schema: {
        tags: ['sdk'],
        body: ContentAllocationRequestSchema,
        response: { 200: ContentAllocationResponseText, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = allocationRequestFromDto(request.body)
      return reply.type(JSON_TYPE).send(presenter.contentAllocation(await allocation.allocateContents(body)))
    },
  )
}
