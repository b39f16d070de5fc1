import type { Static } from '@sinclair/typebox'
import type { Targeting } from '../../domain/catalog.js'
import type { Exclusion } from '../../domain/explanation.js'
import { wireCampaignId } from '../../domain/sdk-v1.js'
import { TARGETING_BOUND_KEYS, TARGETING_LIST_KEYS } from '../../domain/targeting-fields.js'
import type { CampaignVerdict, Explanation } from '../../services/allocation.service.js'
import type { ReachEstimate } from '../../services/reach.service.js'
import type { CampaignDay, UnitDay } from '../../services/report.service.js'
import type { AllocationRequestDto } from '../dto/allocation.dto.js'
import type { ExplanationDto, ReachRequestSchema } from '../dto/insight.dto.js'
import { toIso } from './iso-time.js'

// ----- POST /admin/explain

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

const round = (x: number | null, digits = 6) =>
  x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits

/** Campaign report rows → admin JSON (ratios rounded). */
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

/** Unit report rows → admin JSON. */
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

const TARGETING_KEYS = new Set<string>([...TARGETING_LIST_KEYS, ...TARGETING_BOUND_KEYS])

/** The targeting fields of an admin campaign draft. */
export function targetingFromDto(dto: Static<typeof ReachRequestSchema>): Partial<Targeting> {
  return Object.fromEntries(
    Object.entries(dto).filter(([key]) => TARGETING_KEYS.has(key)),
  ) as Partial<Targeting>
}

/** The estimate method, stated in every answer. */
const REACH_METHOD =
  "a uniform sample of the devices seen in the last 30 days (the smallest 32-bit hashes of their ids, the same in every instance; every device when they fit), each device run through allocation's own targeting checks, counts divided by the sampling rate"

/** A reach estimate → admin JSON, with the method it used. */
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
