import type { FastifyInstance } from 'fastify'
import type { AllocationService } from '../../services/allocation.service.js'
import {
  type AllocationRequestDto,
  AllocationRequestSchema,
  AllocationResponseSchema,
} from '../dto/allocation.dto.js'
import { errorResponses } from '../dto/common.dto.js'

type Deps = { allocation: AllocationService }

/** The SDK's allocation endpoints (DESIGN §3), with and without the trailing slash. */
export async function allocationRoutes(app: FastifyInstance, { allocation }: Deps): Promise<void> {
  const schema = {
    tags: ['sdk'],
    body: AllocationRequestSchema,
    response: { 200: AllocationResponseSchema, ...errorResponses },
  }
  app.post('/api/allocation/', { schema }, async (request) => {
    const result = await allocation.allocate(request.body as AllocationRequestDto)
    return { code: 0, msg: 'ok', ...result }
  })
  app.post('/api/content_allocation/', { schema }, async (request) => {
    const result = await allocation.allocateContents(request.body as AllocationRequestDto)
    return { code: 0, msg: 'ok', ...result }
  })
}
