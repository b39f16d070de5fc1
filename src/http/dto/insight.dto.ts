import { type Static, type TSchema, Type } from '@sinclair/typebox'
import type { Targeting } from '../../domain/catalog.js'
import type { Exclusion } from '../../domain/explanation.js'
import { wireCampaignId } from '../../domain/sdk-v1.js'
import { TARGETING_BOUND_KEYS, TARGETING_LIST_KEYS } from '../../domain/targeting-fields.js'
import type { CampaignVerdict, Explanation } from '../../services/allocation.service.js'
import type { ReachEstimate } from '../../services/reach.service.js'
import type { CampaignDay, UnitDay } from '../../services/report.service.js'
import { CampaignPatchSchema } from './admin.dto.js'
import { type AllocationRequestDto, AllocationRequestSchema } from './allocation.dto.js'
import { IdText, IsoDateTime, Nullable, toIso } from './common.dto.js'

const Int = Type.Integer()
const NullableInt = Nullable(Int)

// ----- POST /admin/explain

/** SDK fields that carry numbers as text; an admin may also send them as JSON numbers. */
const NUMERIC_FIELDS = [
  'unit_id',
  'app_id',
  'device_id',
  'sdk_version',
  'year_of_birth',
  'device_os',
  'registered_date',
]
const SafeInteger = Type.Integer({ minimum: -(2 ** 31), maximum: Number.MAX_SAFE_INTEGER })
const required = new Set<string>(AllocationRequestSchema.required ?? [])
const withNumber = (name: string, schema: TSchema) => {
  const either = Type.Union([schema, SafeInteger])
  return required.has(name) ? either : Type.Optional(either)
}
const sdkFields = Object.fromEntries(
  Object.entries(AllocationRequestSchema.properties).map(([name, schema]) => [
    name,
    NUMERIC_FIELDS.includes(name) ? withNumber(name, schema) : schema,
  ]),
) as Record<string, TSchema>

/**
 * The body of an SDK allocation (`POST /api/allocation/`, form or JSON, numbers as text as the SDK sends
 * them, or as JSON numbers), plus the one campaign to explain, if any.
 */
export const ExplainRequestSchema = Type.Object({
  ...sdkFields,
  campaign_id: Type.Optional(
    Type.Union([IdText, Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })]),
  ),
})

/** The explain body as the SDK's text fields: JSON numbers become the decimal text the SDK would send. */
export function explainRequestFromDto(body: Record<string, unknown>): {
  request: AllocationRequestDto
  campaignId: string | undefined
} {
  const text = Object.fromEntries(
    Object.entries(body).map(([k, v]) => [k, typeof v === 'number' ? String(v) : v]),
  ) as AllocationRequestDto & { campaign_id?: string }
  const { campaign_id, ...request } = text
  return { request, campaignId: campaign_id }
}

const Bounds = Type.Object({ min: NullableInt, max: NullableInt })
const RuleValues = Nullable(Type.Union([Type.Array(Type.String()), Bounds]))
const detail = <T extends Record<string, TSchema>>(rule: string, props: T, description: string) =>
  Type.Object({ rule: Type.Literal(rule), ...props }, { description })

/** One schema per kind of exclusion, each told apart by its `rule`. */
const ExclusionSchema = Type.Union([
  detail(
    'schedule',
    { status: Type.String(), start_date: IsoDateTime, end_date: IsoDateTime, at: IsoDateTime },
    'paused, or now is outside [start_date, end_date)',
  ),
  detail(
    'week_slot',
    {
      slot: Int,
      weekday: Type.Integer({ description: 'Monday = 0' }),
      hour: Int,
      timezone: Type.String(),
      allowed: Type.Array(Int),
    },
    "the unit-local slot (weekday × 24 + hour) is not in the campaign's week_slot",
  ),
  detail('excluded', { excluded: Type.Array(Int) }, "the request's `excluded` holds it (local ids)"),
  detail(
    'provider',
    { provider_id: NullableInt, filtered_providers: Type.Array(Int) },
    "the unit's filtered_providers hold the campaign's provider",
  ),
  detail(
    'content_filter',
    {
      categories: Type.Array(Type.String()),
      channel_id: NullableInt,
      filters: Type.Object({
        categories: Nullable(Type.String()),
        filter_categories: Nullable(Type.String()),
        filter_channel_ids: Nullable(Type.String()),
      }),
    },
    "the request's content filters leave it out",
  ),
  detail(
    'cap',
    {
      ipu: NullableInt,
      dipu: NullableInt,
      tipu: NullableInt,
      impressions: Nullable(Type.Object({ last_hour: Int, last_day: Int, retained: Int })),
    },
    "a per-device cap is reached (impressions null: the device's activity was not known)",
  ),
  detail(
    'targeting',
    {
      field: Type.String(),
      device_value: Type.Union([Type.String(), Type.Number(), Type.Array(Type.String()), Type.Null()]),
      target: RuleValues,
      detarget: RuleValues,
    },
    'the first targeting field the device fails, its value and the campaign rule',
  ),
  detail(
    'budget',
    {
      budget_type: Nullable(Type.String()),
      budget_daily: NullableInt,
      budget_total: NullableInt,
      budget_pacing: Type.String(),
      delivered_today: Int,
      delivered_total: Int,
      paced_allowance: Nullable(Type.Number()),
    },
    'the budget is spent, or even pacing is ahead of the clock (delivered today vs allowance)',
  ),
  detail(
    'supply',
    { reason: Type.String() },
    'sdk_version below 1501 (no ads), or the unit takes no ads / contents',
  ),
  detail(
    'ranked_out',
    { score: Type.Number(), cutoff: Type.Number(), pool_size: Int },
    'servable, but the pool was full: ads by priority (inside the cut-off tier a weighted draw decides), contents by score',
  ),
  detail('catalog', {}, "not in this instance's catalog snapshot yet"),
])

const VerdictSchema = Type.Object({
  campaign_id: Int,
  wire_id: Type.Integer({ description: 'the id the SDK sees (ads + 1,000,000,000)' }),
  name: Type.String(),
  is_ad: Type.Boolean(),
  served: Type.Boolean(),
  rule: Nullable(Type.String({ description: 'why not served: the first rule that kept it out' })),
  detail: Nullable(ExclusionSchema),
})

export const ExplanationSchema = Type.Object({
  unit_id: Int,
  device_id: Int,
  at: IsoDateTime,
  timezone: Type.String(),
  current_slot: Type.Object({ slot: Int, weekday: Int, hour: Int }),
  device: Type.Object(
    {
      age: NullableInt,
      gender: Nullable(Type.String()),
      language: Nullable(Type.String()),
      carrier: Nullable(Type.String()),
      region: Nullable(Type.String()),
      country: Nullable(Type.String()),
      os: NullableInt,
      sdk: NullableInt,
      registered_days: NullableInt,
    },
    { description: 'what the request proves about the device, normalised as the rules compare it' },
  ),
  first_allocation: Type.Boolean({
    description: 'never allocated on this unit: allocation would register it now',
  }),
  activity_known: Type.Boolean(),
  served: Type.Integer({ description: 'how many of the listed campaigns allocation would serve' }),
  campaigns: Type.Array(VerdictSchema),
})
export type ExplanationDto = Static<typeof ExplanationSchema>

/** Domain explanation → admin JSON (snake_case, ISO times, null for "not known"). */
export function explanationToDto(
  x: Explanation,
  deviceId: number,
  request: AllocationRequestDto,
): ExplanationDto {
  const d = x.device
  const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v)
  return {
    unit_id: x.unit.id,
    device_id: deviceId,
    at: toIso(x.now),
    timezone: x.unit.timezone,
    current_slot: { slot: x.currentSlot, weekday: Math.floor(x.currentSlot / 24), hour: x.currentSlot % 24 },
    device: {
      age: orNull(d.age),
      gender: orNull(d.gender),
      language: orNull(d.language),
      carrier: orNull(d.carrier),
      region: orNull(d.region),
      country: orNull(d.country),
      os: orNull(d.os),
      sdk: orNull(d.sdk),
      registered_days: orNull(d.registeredDays),
    },
    first_allocation: x.firstAllocation,
    activity_known: x.activityKnown,
    served: x.verdicts.filter((v) => v.served).length,
    campaigns: x.verdicts.map((v) => verdictToDto(v, x, request)),
  }
}

function verdictToDto(v: CampaignVerdict, x: Explanation, request: AllocationRequestDto) {
  const c = v.campaign
  return {
    campaign_id: c.id,
    wire_id: wireCampaignId(c.id, c.is_ad),
    name: c.name,
    is_ad: c.is_ad,
    served: v.served,
    rule: v.exclusion?.rule ?? null,
    detail: v.exclusion ? exclusionToDto(v.exclusion, x, request) : null,
  }
}

function exclusionToDto(e: Exclusion, x: Explanation, request: AllocationRequestDto) {
  switch (e.rule) {
    case 'schedule':
      return {
        rule: e.rule,
        status: e.status,
        start_date: toIso(e.startDate),
        end_date: toIso(e.endDate),
        at: toIso(e.now),
      }
    case 'week_slot':
      return {
        rule: e.rule,
        slot: e.slot,
        weekday: Math.floor(e.slot / 24),
        hour: e.slot % 24,
        timezone: x.unit.timezone,
        allowed: [...e.allowed],
      }
    case 'excluded':
      return { rule: e.rule, excluded: [...e.excluded] }
    case 'provider':
      return { rule: e.rule, provider_id: e.providerId, filtered_providers: [...e.filteredProviders] }
    case 'content_filter':
      return {
        rule: e.rule,
        categories: [...e.categories],
        channel_id: e.channelId,
        filters: {
          categories: request.categories ?? null,
          filter_categories: request.filter_categories ?? null,
          filter_channel_ids: request.filter_channel_ids ?? null,
        },
      }
    case 'cap':
      return {
        rule: e.rule,
        ipu: e.ipu,
        dipu: e.dipu,
        tipu: e.tipu,
        impressions: e.impressions
          ? {
              last_hour: e.impressions.lastHour,
              last_day: e.impressions.lastDay,
              retained: e.impressions.retained,
            }
          : null,
      }
    case 'targeting': {
      const { field, deviceValue, target, detarget } = e.miss
      const values = (r: typeof target) => (r === undefined ? null : Array.isArray(r) ? [...r] : { ...r })
      return {
        rule: e.rule,
        field,
        device_value:
          deviceValue === undefined ? null : Array.isArray(deviceValue) ? [...deviceValue] : deviceValue,
        target: values(target),
        detarget: values(detarget),
      }
    }
    case 'budget':
      return {
        rule: e.rule,
        budget_type: e.budgetType,
        budget_daily: e.daily,
        budget_total: e.total,
        budget_pacing: e.pacing,
        delivered_today: e.deliveredToday,
        delivered_total: e.deliveredTotal,
        paced_allowance: e.pacedAllowance,
      }
    case 'supply':
      return { rule: e.rule, reason: e.reason }
    case 'ranked_out':
      return { rule: e.rule, score: e.score, cutoff: e.cutoff, pool_size: e.poolSize }
    case 'catalog':
      return { rule: e.rule }
  }
}

// ----- GET /admin/reports/campaigns, GET /admin/reports/units

const IsoDay = (what: string) =>
  Type.String({
    pattern: '^\\d{4}-\\d{2}-\\d{2}$',
    description: `${what}: an ISO date (yyyy-mm-dd), included`,
  })
const reportRange = {
  from: IsoDay('first day'),
  to: IsoDay('last day; at most 92 days after from'),
  unit_id: Type.Optional({ ...IdText, description: 'only this unit' }),
  format: Type.Optional(
    Type.Unsafe<'json' | 'csv'>({
      type: 'string',
      enum: ['json', 'csv'],
      default: 'json',
      description: 'csv: UTF-8 with a BOM, one row per line (opens cleanly in a spreadsheet)',
    }),
  ),
}
export const CampaignReportQuerySchema = Type.Object({
  ...reportRange,
  campaign_id: Type.Optional({ ...IdText, description: 'only this campaign (admin id)' }),
})
export const UnitReportQuerySchema = Type.Object(reportRange)

const Ratio = (description: string) => Nullable(Type.Number({ description }))

export const CampaignReportSchema = Type.Object({
  from: Type.String(),
  to: Type.String(),
  rows: Type.Array(
    Type.Object({
      day: Type.String({ description: "the unit's local day (yyyy-mm-dd)" }),
      campaign_id: Int,
      campaign_name: Nullable(Type.String()),
      allocations: Type.Integer({ description: 'allocation answers that included it' }),
      impressions: Int,
      clicks: Int,
      ctr: Ratio('clicks ÷ impressions'),
      unlocks: Int,
      ineligible: Type.Integer({
        description:
          'impressions, clicks and unlocks that arrived for a paused or ended campaign, an inactive unit or an expired payload: never delivery',
      }),
      rewards: Type.Record(Type.String(), Type.Object({ count: Int, points: Int }), {
        description: 'grants and points (base part included) by action type: u unlock, l landing',
      }),
      postbacks: Type.Object({ delivered: Int, pending: Int, failed: Int }),
      budget: Nullable(
        Type.Object(
          {
            type: Type.String(),
            daily: NullableInt,
            total: NullableInt,
            spent: Type.Integer({ description: 'delivered in the budget unit, every unit of the campaign' }),
            pacing_line: Nullable(Type.Number({ description: 'what even pacing would have delivered' })),
            pacing: Ratio('spent ÷ pacing_line: 1 on pace, below behind, above ahead'),
          },
          { description: 'null for a campaign without a budget' },
        ),
      ),
    }),
  ),
})

export const UnitReportSchema = Type.Object({
  from: Type.String(),
  to: Type.String(),
  rows: Type.Array(
    Type.Object({
      day: Type.String({ description: "the unit's local day (yyyy-mm-dd)" }),
      unit_id: Int,
      unit_name: Nullable(Type.String()),
      requests: Int,
      items: Int,
      empty: Type.Integer({ description: 'answers without a single item' }),
      fill_rate: Ratio('Σ min(items, page_limit) ÷ Σ page_limit'),
      latency_p50_ms: Nullable(Type.Number()),
      latency_p99_ms: Nullable(Type.Number()),
    }),
  ),
})

const round = (x: number | null, digits = 6) =>
  x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits

/** Report rows → admin JSON. */
export function campaignReportToDto(from: string, to: string, rows: readonly CampaignDay[]) {
  return {
    from,
    to,
    rows: rows.map((r) => ({
      day: r.day,
      campaign_id: r.campaignId,
      campaign_name: r.name,
      allocations: r.allocations,
      impressions: r.impressions,
      clicks: r.clicks,
      ctr: round(r.ctr),
      unlocks: r.unlocks,
      ineligible: r.ineligible,
      rewards: r.rewards,
      postbacks: r.postbacks,
      budget: r.budget && {
        type: r.budget.type,
        daily: r.budget.daily,
        total: r.budget.total,
        spent: r.budget.spent,
        pacing_line: round(r.budget.pacingLine, 2),
        pacing: round(r.budget.pacing, 4),
      },
    })),
  }
}

export function unitReportToDto(from: string, to: string, rows: readonly UnitDay[]) {
  return {
    from,
    to,
    rows: rows.map((r) => ({
      day: r.day,
      unit_id: r.unitId,
      unit_name: r.name,
      requests: r.requests,
      items: r.items,
      empty: r.empty,
      fill_rate: round(r.fillRate, 4),
      latency_p50_ms: round(r.latencyP50Ms, 1),
      latency_p99_ms: round(r.latencyP99Ms, 1),
    })),
  }
}

// ----- POST /admin/reach

/** A campaign draft in the admin campaign shape; only its targeting fields are read. */
export const ReachRequestSchema = CampaignPatchSchema

const TARGETING_KEYS = new Set<string>([...TARGETING_LIST_KEYS, ...TARGETING_BOUND_KEYS])

/** The targeting fields of an admin campaign draft. */
export function targetingFromDto(dto: Static<typeof ReachRequestSchema>): Partial<Targeting> {
  return Object.fromEntries(
    Object.entries(dto).filter(([key]) => TARGETING_KEYS.has(key)),
  ) as Partial<Targeting>
}

export const ReachSchema = Type.Object({
  method: Type.String(),
  sample: Type.Object({
    devices: Type.Integer({ description: "devices in this instance's sample" }),
    rate: Type.Number({
      description: 'the probability that a device is in the sample (1: every device, exact)',
    }),
    refreshed_at: Nullable(IsoDateTime),
  }),
  ignored: Type.Array(Type.String(), { description: 'fields of the draft the estimate cannot evaluate' }),
  windows: Type.Array(
    Type.Object({
      days: Type.Integer({ description: 'devices last seen on one of the last `days` UTC days (1 = today)' }),
      seen: Int,
      matching: Int,
      margin_95: Type.Integer({
        description: 'matching is within ± this of the exact count, 95 % of the time',
      }),
      rules: Type.Array(
        Type.Object({
          field: Type.String(),
          removes: Type.Integer({ description: 'devices this rule is the first to remove (matching order)' }),
          remaining: Type.Integer({ description: 'devices left after this rule' }),
        }),
      ),
    }),
  ),
})

/** The estimate method, stated in every answer. */
const REACH_METHOD =
  "a uniform sample of the devices seen in the last 30 days (the smallest 32-bit hashes of their ids, the same in every instance; every device when they fit), each device run through allocation's own targeting checks, counts divided by the sampling rate"

export function reachToDto(r: ReachEstimate) {
  return {
    method: REACH_METHOD,
    sample: {
      devices: r.sampled,
      rate: r.rate,
      refreshed_at: r.loadedAt === undefined ? null : toIso(r.loadedAt),
    },
    ignored: r.ignored,
    windows: r.windows.map((w) => ({
      days: w.days,
      seen: w.seen,
      matching: w.matching,
      margin_95: w.margin,
      rules: w.rules,
    })),
  }
}
