import type { ServedCampaign } from '../domain/catalog.js'
import type { CatalogSnapshot } from '../domain/catalog-snapshot.js'
import { evenPacingLine } from '../domain/delivery.js'
import { AllotError } from '../domain/errors.js'
import {
  CAMPAIGN_METRICS,
  daysBetween,
  histogramQuantile,
  isoDayValue,
  LATENCY_BOUNDS_MS,
  latencyMetric,
  MAX_REPORT_DAYS,
  type ReportCounterRow,
  UNIT_METRICS,
} from '../domain/report.js'
import { localDate, localDayShare } from '../domain/schedule.js'
import type { CampaignLookup } from './ports/catalog.ports.js'
import type { ReportCounterSource } from './ports/insight.ports.js'

/** What a report covers: days `from`..`to` (ISO dates, both included), optionally one unit / campaign. */
export type ReportRange = {
  from: string
  to: string
  unitId?: number | undefined
  campaignId?: number | undefined
}

/** One campaign on one day (the units' local day), summed over the units asked for. */
export type CampaignDay = {
  day: string
  campaignId: number
  /** null when the campaign no longer exists. */
  name: string | null
  allocations: number
  impressions: number
  clicks: number
  /** clicks ÷ impressions; null without impressions. */
  ctr: number | null
  unlocks: number
  /** Events that arrived for a paused or ended campaign, an inactive unit or an expired payload (not delivery). */
  ineligible: number
  /** Grants and points (base part included) per action type: `u` unlock, `l` landing. */
  rewards: Record<string, { count: number; points: number }>
  postbacks: { delivered: number; pending: number; failed: number }
  /** Campaign-wide (every unit), in the budget's unit; null for a campaign without a budget. */
  budget: {
    type: 'impression' | 'click'
    daily: number | null
    total: number | null
    spent: number
    /** What even pacing would have delivered by the end of the day (by now, today); null without a daily budget. */
    pacingLine: number | null
    /** spent ÷ pacingLine: 1 is on pace, below is behind, above is ahead. */
    pacing: number | null
  } | null
}

/** One unit on one local day. */
export type UnitDay = {
  day: string
  unitId: number
  name: string | null
  requests: number
  items: number
  empty: number
  /** Σ min(items, page_limit) ÷ Σ page_limit over the day's answers; null without requests. */
  fillRate: number | null
  latencyP50Ms: number | null
  latencyP99Ms: number | null
}

type Deps = {
  counters: ReportCounterSource
  catalog: { current(): CatalogSnapshot }
  /** Campaigns outside the snapshot (paused, ended) still have a name and a budget. */
  campaigns: CampaignLookup
  clock: () => number
}

/** Delivery reports, computed from the durable report counters (never from raw events). */
export function createReportService({ counters, catalog, campaigns, clock }: Deps) {
  /** Campaigns by id for one report: the snapshot's, else the store's (ended, paused), each looked up once. */
  function campaignLookup(): (id: number) => Promise<ServedCampaign | undefined> {
    const snapshot = catalog.current()
    const known = new Map<number, ServedCampaign | undefined>(
      [...snapshot.ads, ...snapshot.contents].map((e) => [e.campaign.id, e.campaign]),
    )
    return async (id) => {
      if (!known.has(id)) known.set(id, await campaigns.get(id))
      return known.get(id)
    }
  }

  /** The timezone a campaign's day is read in: its units' one, or UTC when they disagree. */
  function timezoneOf(unitIds: ReadonlySet<number>): string {
    const zones = new Set([...unitIds].map((id) => catalog.current().units.get(id)?.timezone ?? 'UTC'))
    return zones.size === 1 ? ([...zones][0] as string) : 'UTC'
  }

  return {
    /** Per campaign and day. Budget figures count every unit even when one unit is asked for. */
    async campaigns(range: ReportRange): Promise<CampaignDay[]> {
      checkRange(range)
      const rows = await counters.read({
        kind: 'campaign',
        from: range.from,
        to: range.to,
        campaignId: range.campaignId,
      })
      const now = clock()
      const campaignOf = campaignLookup()
      const out: CampaignDay[] = []
      for (const g of groupCampaignRows(rows, range.unitId)) {
        if (g.metrics.size === 0) continue
        const c = await campaignOf(g.campaignId)
        const share = elapsedShare(g.day, timezoneOf(g.units), now)
        out.push(campaignDayOf(g, c, share))
      }
      return out.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.campaignId - b.campaignId))
    },

    /** Per unit and day. */
    async units(range: ReportRange): Promise<UnitDay[]> {
      checkRange(range)
      const rows = await counters.read({ kind: 'unit', from: range.from, to: range.to, unitId: range.unitId })
      const units = catalog.current().units
      const out = groupUnitRows(rows).map((g) => unitDayOf(g, units.get(g.unitId)?.name ?? null))
      return out.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.unitId - b.unitId))
    },
  }
}

/** One campaign's counters on one day: its metrics (of the units asked for), its budget spend (every unit). */
type CampaignGroup = {
  campaignId: number
  day: string
  metrics: Map<string, number>
  spent: number
  units: Set<number>
}

function groupCampaignRows(rows: readonly ReportCounterRow[], unitId: number | undefined): CampaignGroup[] {
  const groups = new Map<string, CampaignGroup>()
  for (const r of rows) {
    const key = `${r.campaignId}|${r.day}`
    let g = groups.get(key)
    if (!g) {
      g = { campaignId: r.campaignId, day: r.day, metrics: new Map(), spent: 0, units: new Set() }
      groups.set(key, g)
    }
    g.units.add(r.unitId)
    if (r.metric === CAMPAIGN_METRICS.budgetSpent) g.spent += r.value
    if (unitId === undefined || r.unitId === unitId)
      g.metrics.set(r.metric, (g.metrics.get(r.metric) ?? 0) + r.value)
  }
  return [...groups.values()]
}

/** A campaign's day from its counters; `elapsed` is the share of the day passed (for the pacing line). */
function campaignDayOf(g: CampaignGroup, c: ServedCampaign | undefined, elapsed: number): CampaignDay {
  const m = (name: string) => g.metrics.get(name) ?? 0
  const delivered = m(CAMPAIGN_METRICS.postbacksDelivered)
  const failed = m(CAMPAIGN_METRICS.postbacksFailed)
  const impressions = m(CAMPAIGN_METRICS.impressions)
  return {
    day: g.day,
    campaignId: g.campaignId,
    name: c?.name ?? null,
    allocations: m(CAMPAIGN_METRICS.allocations),
    impressions,
    clicks: m(CAMPAIGN_METRICS.clicks),
    ctr: impressions > 0 ? m(CAMPAIGN_METRICS.clicks) / impressions : null,
    unlocks: m(CAMPAIGN_METRICS.unlocks),
    ineligible: m(CAMPAIGN_METRICS.ineligible),
    rewards: rewardsOf(g.metrics),
    postbacks: {
      delivered,
      failed,
      pending: Math.max(0, m(CAMPAIGN_METRICS.postbacks) - delivered - failed),
    },
    budget: budgetOf(c, g.spent, elapsed),
  }
}

/** Grants and points per action type, from the `rewards_<action>` / `points_<action>` counters. */
function rewardsOf(metrics: ReadonlyMap<string, number>): CampaignDay['rewards'] {
  const rewards: CampaignDay['rewards'] = {}
  for (const [name, value] of metrics) {
    const hit = /^(rewards|points)_(.+)$/.exec(name)
    if (!hit) continue
    const action = hit[2] as string
    rewards[action] ??= { count: 0, points: 0 }
    if (hit[1] === 'rewards') rewards[action].count += value
    else rewards[action].points += value
  }
  return rewards
}

/** The budget block: spend against the even-pacing line; null for a campaign without a budget. */
function budgetOf(c: ServedCampaign | undefined, spent: number, elapsed: number): CampaignDay['budget'] {
  if (!c?.budget_type) return null
  const line = c.budget_daily === null ? null : evenPacingLine(c.budget_daily, elapsed)
  return {
    type: c.budget_type,
    daily: c.budget_daily,
    total: c.budget_total,
    spent,
    pacingLine: line,
    pacing: line ? spent / line : null,
  }
}

/** How much of `day` had passed at `now` in `timezone`: 1 for a past day, 0 for a future one. */
function elapsedShare(day: string, timezone: string, now: number): number {
  const today = localDate(timezone, now)
  if (day < today) return 1
  return day > today ? 0 : localDayShare(timezone, now)
}

type UnitGroup = { unitId: number; day: string; metrics: Map<string, number> }

function groupUnitRows(rows: readonly ReportCounterRow[]): UnitGroup[] {
  const groups = new Map<string, UnitGroup>()
  for (const r of rows) {
    const key = `${r.unitId}|${r.day}`
    let g = groups.get(key)
    if (!g) {
      g = { unitId: r.unitId, day: r.day, metrics: new Map() }
      groups.set(key, g)
    }
    g.metrics.set(r.metric, (g.metrics.get(r.metric) ?? 0) + r.value)
  }
  return [...groups.values()]
}

function unitDayOf(g: UnitGroup, name: string | null): UnitDay {
  const m = (metric: string) => g.metrics.get(metric) ?? 0
  const histogram = Array.from({ length: LATENCY_BOUNDS_MS.length + 1 }, (_, i) => m(latencyMetric(i)))
  const slots = m(UNIT_METRICS.pageSlots)
  return {
    day: g.day,
    unitId: g.unitId,
    name,
    requests: m(UNIT_METRICS.requests),
    items: m(UNIT_METRICS.items),
    empty: m(UNIT_METRICS.empty),
    fillRate: slots > 0 ? m(UNIT_METRICS.filled) / slots : null,
    latencyP50Ms: histogramQuantile(histogram, 0.5),
    latencyP99Ms: histogramQuantile(histogram, 0.99),
  }
}

/** A real ISO date range, `to` not before `from`, at most MAX_REPORT_DAYS days. */
function checkRange({ from, to }: ReportRange): void {
  for (const [field, value] of [
    ['from', from],
    ['to', to],
  ] as const)
    if (Number.isNaN(isoDayValue(value)))
      throw new AllotError(
        'InvalidField',
        `${field} must be a date as yyyy-mm-dd (got ${JSON.stringify(value)})`,
      )
  const days = daysBetween(from, to)
  if (days < 1) throw new AllotError('InvalidField', 'to must not be before from')
  if (days > MAX_REPORT_DAYS)
    throw new AllotError('InvalidField', `a report covers at most ${MAX_REPORT_DAYS} days (asked: ${days})`)
}
