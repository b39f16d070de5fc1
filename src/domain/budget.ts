import { utcDay } from '../lib/counter-keys.js'
import type { ServedCampaign } from './catalog.js'

/** A budget pool: a campaign's budget in one period (`t` its total, `d:yyyymmdd` a UTC day) and its limit. */
export type Pool = { campaignId: number; period: string; limit: number }

/** The pool period of the UTC day of `now`. */
export function dayPeriod(now: number): string {
  return `d:${utcDay(now)}`
}

/**
 * Whether a delivery of `kind` (an impression or a click) spends from one of `c`'s budgets, so that it can find
 * nothing left: the campaign's budget is counted in that unit, and it has a total or a daily budget.
 */
export function spendsBudget(c: ServedCampaign, kind: 'impression' | 'click'): boolean {
  return c.budget_type === kind && (c.budget_total !== null || c.budget_daily !== null)
}

/** The pools one delivery of a budgeted campaign spends from at `now`: its total and its day, as it has them. */
export function budgetPools(c: ServedCampaign, now: number): Pool[] {
  const pools: Pool[] = []
  if (c.budget_total !== null) pools.push({ campaignId: c.id, period: 't', limit: c.budget_total })
  if (c.budget_daily !== null) pools.push({ campaignId: c.id, period: dayPeriod(now), limit: c.budget_daily })
  return pools
}
