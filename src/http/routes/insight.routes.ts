import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { type TObject, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Targeting } from '../../domain/catalog.js'
import type { ReachEstimate } from '../../services/reach.service.js'
import type { CampaignDay, ReportRange, UnitDay } from '../../services/report.service.js'
import { errorResponses } from '../dto/common.dto.js'
import {
  CampaignReportQuerySchema,
  CampaignReportSchema,
  ReachRequestSchema,
  ReachSchema,
  UnitReportQuerySchema,
  UnitReportSchema,
} from '../dto/insight.dto.js'
import { optionalIdOf } from '../numbers.js'
import {
  campaignReportToDto,
  reachToDto,
  targetingFromDto,
  unitReportToDto,
} from '../presenters/insight.presenter.js'
import { campaignReportCsv, unitReportCsv } from '../presenters/report-csv.presenter.js'

/** What the ad-ops questions are answered from. */
export type InsightAdmin = {
  reports: {
    campaigns(range: ReportRange): Promise<CampaignDay[]>
    units(range: ReportRange): Promise<UnitDay[]>
  }
  reach: { estimate(targeting: Partial<Targeting>): ReachEstimate }
}

/** A JSON answer, or the same report as CSV (`format=csv`). */
const reportResponse = (json: TObject) => ({
  200: {
    description: 'the report, as JSON or (format=csv) as CSV',
    content: {
      'application/json': { schema: json },
      'text/csv': { schema: Type.String({ description: 'UTF-8 with a BOM, CRLF line ends, ISO dates' }) },
    },
  },
  ...errorResponses,
})

function sendCsv(reply: FastifyReply, name: string, text: string) {
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${name}.csv"`)
    .send(text)
}

/** `GET /admin/reports/{campaigns,units}`, `POST /admin/reach` (registered inside the admin scope). */
export async function insightRoutes(fastify: FastifyInstance, { insight }: { insight: InsightAdmin }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/reports/campaigns',
    {
      schema: {
        tags: ['insight'],
        summary:
          'Delivery per campaign and day: allocations, impressions, clicks, CTR, unlocks, rewards, postbacks, budget pacing',
        querystring: CampaignReportQuerySchema,
        response: reportResponse(CampaignReportSchema),
      },
    },
    async (request, reply) => {
      const q = request.query
      const rows = await insight.reports.campaigns({
        from: q.from,
        to: q.to,
        unitId: optionalIdOf('unit_id', q.unit_id),
        campaignId: optionalIdOf('campaign_id', q.campaign_id),
      })
      if (q.format === 'csv') return sendCsv(reply, `campaigns-${q.from}-${q.to}`, campaignReportCsv(rows))
      return campaignReportToDto(q.from, q.to, rows)
    },
  )

  app.get(
    '/reports/units',
    {
      schema: {
        tags: ['insight'],
        summary: 'Allocation per unit and day: requests, items, fill rate, empty answers, p50/p99 latency',
        querystring: UnitReportQuerySchema,
        response: reportResponse(UnitReportSchema),
      },
    },
    async (request, reply) => {
      const q = request.query
      const rows = await insight.reports.units({
        from: q.from,
        to: q.to,
        unitId: optionalIdOf('unit_id', q.unit_id),
      })
      if (q.format === 'csv') return sendCsv(reply, `units-${q.from}-${q.to}`, unitReportCsv(rows))
      return unitReportToDto(q.from, q.to, rows)
    },
  )

  app.post(
    '/reach',
    {
      schema: {
        tags: ['insight'],
        summary:
          'How many devices seen in the last 1 / 7 / 30 days a campaign draft’s targeting would reach, overall and rule by rule',
        body: ReachRequestSchema,
        response: { 200: ReachSchema, ...errorResponses },
      },
    },
    async (request) => reachToDto(insight.reach.estimate(targetingFromDto(request.body))),
  )
}
