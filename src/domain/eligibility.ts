import type { ServedCampaign } from './catalog.js'
import type { CatalogEntry } from './catalog-snapshot.js'
import type { ContentFilter } from './content-filter.js'
import { type ActivitySummary, type Delivery, hasCaps, withinBudget, withinCaps } from './delivery.js'
import { isLive } from './schedule.js'
import type { DeviceContext } from './targeting.js'

/** What one allocation knows when it decides whether a campaign may be served. */
export type EligibilityContext = {
  now: number
  /** The unit-local week slot (weekday × 24 + hour, Monday 00h = 0). */
  currentSlot: number
  /** Campaign ids the SDK already holds (`excluded`). */
  excluded: ReadonlySet<number>
  /** The unit's filtered providers. */
  filteredProviders: ReadonlySet<number>
  /** The request's content filters (ads pass). */
  contentFilter: ContentFilter
  /** The device's impressions per cap window; undefined when its activity was not known in time. */
  activity: ActivitySummary | undefined
  device: DeviceContext
  /** What a budgeted campaign delivered, in its budget's unit. */
  delivery(c: ServedCampaign): Delivery
}

type Rule = (x: EligibilityContext, e: CatalogEntry) => boolean

/**
 * Every rule that can keep a campaign out of an allocation, in the order allocation applies them (cheap
 * first). Allocation and the decision explainer run these same functions; the explainer reports the first
 * one that fails.
 */
export const RULES = {
  schedule: (x, e) => isLive(e.campaign, x.now),
  week_slot: (x, e) => e.slots === undefined || e.slots[x.currentSlot] === 1,
  excluded: (x, e) => !x.excluded.has(e.campaign.id),
  provider: (x, e) => e.campaign.provider_id === null || !x.filteredProviders.has(e.campaign.provider_id),
  content_filter: (x, e) => x.contentFilter(e.campaign),
  // Unknown activity (store too slow) means caps cannot be proven, so capped campaigns sit this one out.
  cap: (x, e) => !hasCaps(e.campaign) || (x.activity !== undefined && withinCaps(e.campaign, x.activity)),
  targeting: (x, e) => e.targeting.matches(x.device),
  budget: (x, e) =>
    e.campaign.budget_type === null || withinBudget(e.campaign, x.delivery(e.campaign), x.now),
} satisfies Record<string, Rule>

export type RuleName = keyof typeof RULES
export const RULE_ORDER = Object.keys(RULES) as RuleName[]

/** Every rule as one predicate: what allocation scans with. */
export function servable(x: EligibilityContext): (e: CatalogEntry) => boolean {
  const r = RULES
  return (e) =>
    r.schedule(x, e) &&
    r.week_slot(x, e) &&
    r.excluded(x, e) &&
    r.provider(x, e) &&
    r.content_filter(x, e) &&
    r.cap(x, e) &&
    r.targeting(x, e) &&
    r.budget(x, e)
}

/** The first rule that keeps `e` out, or undefined when it is servable. */
export function firstExclusion(x: EligibilityContext, e: CatalogEntry): RuleName | undefined {
  for (const name of RULE_ORDER) if (!RULES[name](x, e)) return name
  return undefined
}
