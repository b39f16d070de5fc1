import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { CampaignPatchSchema } from './admin.dto.js'
import { AllocationRequestSchema } from './allocation.dto.js'
import { IdText, IsoDateTime, Nullable } from './common.dto.js'

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

// ----- POST /admin/reach

/** A campaign draft in the admin campaign shape; only its targeting fields are read. */
export const ReachRequestSchema = CampaignPatchSchema

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
