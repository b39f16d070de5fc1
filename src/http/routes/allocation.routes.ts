import type { FastifyInstance } from 'fastify'
import type { AllocationService } from '../../services/allocation.service.js'
import {
  type AllocationRequestDto,
  AllocationRequestSchema,
  AllocationResponseSchema,
  allocationRequestFromDto,
  ContentAllocationRequestSchema,
  ContentAllocationResponseSchema,
} from '../dto/allocation.dto.js'
import { errorResponses } from '../dto/common.dto.js'
import type { AllocationPresenter } from '../presenters/allocation.presenter.js'

type Deps = { allocation: AllocationService; presenter: AllocationPresenter }

const JSON_TYPE = 'application/json; charset=utf-8'

/** The SDK's allocation endpoints (SDK-CONTRACT §2–§4), with and without the trailing slash. */
export async function allocationRoutes(app: FastifyInstance, { allocation, presenter }: Deps): Promise<void> {
  app.post(
    '/api/allocation/',
    {
      schema: {
        tags: ['sdk'],
        body: AllocationRequestSchema,
        response: { 200: AllocationResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = allocationRequestFromDto(request.body as AllocationRequestDto)
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
        response: { 200: ContentAllocationResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = allocationRequestFromDto(request.body as AllocationRequestDto)
      return reply.type(JSON_TYPE).send(presenter.contentAllocation(await allocation.allocateContents(body)))
    },
  )
}
