import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import type { AllocationRequest, Explanation } from '../../services/allocation.service.js'
import { allocationRequestFromDto } from '../dto/allocation.dto.js'
import { errorResponses, optionalIdOf } from '../dto/common.dto.js'
import {
  ExplainRequestSchema,
  ExplanationSchema,
  explainRequestFromDto,
  explanationToDto,
} from '../dto/insight.dto.js'

/** What the ad-ops questions are answered from. */
export type InsightAdmin = {
  explain(request: AllocationRequest, campaignId?: number): Promise<Explanation>
}

/** `POST /admin/explain` (registered inside the admin scope). */
export async function insightRoutes(fastify: FastifyInstance, { insight }: { insight: InsightAdmin }) {
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
      const explanation = await insight.explain(parsed, optionalIdOf('campaign_id', campaignId))
      return explanationToDto(explanation, parsed.device_id, fields)
    },
  )
}
