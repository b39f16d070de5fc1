import type { BudgetPacing, BudgetType, CampaignStatus } from './catalog.js'
import type { CatalogEntry } from './catalog-snapshot.js'
import { pacedAllowance } from './delivery.js'
import type { EligibilityContext, RuleName } from './eligibility.js'
import type { TargetingMiss } from './targeting.js'

/** The values an eligibility rule looked at when it kept a campaign out (the decision explainer). */
export type RuleDetail =
  | { rule: 'schedule'; status: CampaignStatus; startDate: number; endDate: number; now: number }
  | { rule: 'week_slot'; slot: number; allowed: readonly number[] }
  | { rule: 'excluded'; excluded: readonly number[] }
  | { rule: 'provider'; providerId: number | null; filteredProviders: readonly number[] }
  | { rule: 'content_filter'; categories: readonly string[]; channelId: number | null }
  | {
      rule: 'cap'
      ipu: number | null
      dipu: number | null
      tipu: number | null
      /** The device's impressions of the campaign per cap window; undefined = its activity was not known. */
      impressions: { lastHour: number; lastDay: number; retained: number } | undefined
    }
  | { rule: 'targeting'; miss: TargetingMiss }
  | {
      rule: 'budget'
      budgetType: BudgetType | null
      daily: number | null
      total: number | null
      pacing: BudgetPacing
      deliveredToday: number
      deliveredTotal: number
      /** Even pacing's allowance for today so far (null without a daily budget or with asap pacing). */
      pacedAllowance: number | null
    }

/** Allocation takes no campaign of this kind for this request (SDK version or the unit's supply settings). */
export type SupplyDetail = { rule: 'supply'; reason: 'sdk_version' | 'ad_type_none' | 'content_type_none' }

/**
 * Every rule passed but the pool was full of better candidates: ads compare by priority (inside the lowest
 * tier of the pool, a weighted draw decided), contents by their score.
 */
export type RankedOutDetail = {
  rule: 'ranked_out'
  score: number
  /** The worst score (ads: priority) still in the pool. */
  cutoff: number
  poolSize: number
}

/** Not in this process's catalog snapshot (created or reactivated since its last reload). */
export type CatalogDetail = { rule: 'catalog' }

export type Exclusion = RuleDetail | SupplyDetail | RankedOutDetail | CatalogDetail

/** The values behind `rule`'s verdict on `e`, as the explainer reports them. */
export function ruleDetail(rule: RuleName, x: EligibilityContext, e: CatalogEntry): RuleDetail {
  const c = e.campaign
  switch (rule) {
    case 'schedule':
      return { rule, status: c.status, startDate: c.start_date, endDate: c.end_date, now: x.now }
    case 'week_slot':
      return { rule, slot: x.currentSlot, allowed: c.week_slot }
    case 'excluded':
      return { rule, excluded: [...x.excluded] }
    case 'provider':
      return { rule, providerId: c.provider_id, filteredProviders: [...x.filteredProviders] }
    case 'content_filter':
      return { rule, categories: c.categories, channelId: c.channel_id }
    case 'cap': {
      const a = x.activity
      const impressions = a && {
        lastHour: a.lastHour.get(c.id) ?? 0,
        lastDay: a.lastDay.get(c.id) ?? 0,
        retained: a.retained.get(c.id) ?? 0,
      }
      return { rule, ipu: c.ipu, dipu: c.dipu, tipu: c.tipu, impressions }
    }
    case 'targeting': {
      const miss = e.targeting.firstMiss(x.device)
      // firstExclusion said targeting failed, so a field failed; the fallback only satisfies the type.
      return {
        rule,
        miss: miss ?? { field: 'target_country', deviceValue: undefined, target: [], detarget: [] },
      }
    }
    case 'budget': {
      const delivered = x.delivery(c)
      const paced =
        c.budget_daily !== null && c.budget_pacing === 'even' ? pacedAllowance(c.budget_daily, x.now) : null
      return {
        rule,
        budgetType: c.budget_type,
        daily: c.budget_daily,
        total: c.budget_total,
        pacing: c.budget_pacing,
        deliveredToday: delivered.today,
        deliveredTotal: delivered.total,
        pacedAllowance: paced,
      }
    }
  }
}
