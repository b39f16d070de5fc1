import type { Targeting } from './targeting-fields.js'

/**
 * Facts about the domain (docs/architecture.md §6). Field names follow the SDK's wire names; times are epoch
 * ms, UTC.
 */

export const CAMPAIGN_TYPES = ['C', 'I', 'J', 'B'] as const
export type CampaignType = (typeof CAMPAIGN_TYPES)[number]
export const DISPLAY_TYPES = ['A', 'F', 'R'] as const
export type DisplayType = (typeof DISPLAY_TYPES)[number]
export const CAMPAIGN_STATUSES = ['active', 'paused'] as const
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number]
export const BUDGET_TYPES = ['impression', 'click'] as const
export type BudgetType = (typeof BUDGET_TYPES)[number]
export const BUDGET_PACINGS = ['asap', 'even'] as const
export type BudgetPacing = (typeof BUDGET_PACINGS)[number]
/** What the publisher's postback calls an ad's revenue model (contents have none). */
export const REVENUE_TYPES = ['cpi', 'cpe', 'cpa'] as const
export type RevenueType = (typeof REVENUE_TYPES)[number]
/** Whether a unit takes ads / contents at all (v1 ad type and content type "none"). */
export const UNIT_SUPPLY = ['all', 'none'] as const
export type UnitSupply = (typeof UNIT_SUPPLY)[number]

/** A campaign's targeting fields, derived from the table in targeting-fields.ts. */
export type { Targeting } from './targeting-fields.js'

export type Campaign = Targeting & {
  id: number
  is_ad: boolean
  name: string
  type: CampaignType
  owner_id: number | null
  provider_id: number | null
  channel_id: number | null
  categories: string[]
  title: string
  description: string
  image: string
  click_url: string
  impression_urls: string[]
  landing_type: number
  display_type: DisplayType
  display_weight: number
  first_display_priority: number
  status: CampaignStatus
  start_date: number
  end_date: number
  published_at: number | null
  /** Allowed weekly slots, weekday × 24 + hour (Monday = 0), in the unit's timezone; empty = always. */
  week_slot: number[]
  ipu: number | null
  dipu: number | null
  tipu: number | null
  budget_type: BudgetType | null
  budget_daily: number | null
  budget_total: number | null
  budget_pacing: BudgetPacing
  unlock_reward: number
  landing_reward: number
  action_reward: number
  /** The "clean" landing URL (v1 `redirect_url_clean`) opened when the SDK asks for clean mode. */
  clean_link: string
  clean_mode: number
  /** Publisher-defined data, sent as the item's `extra` and the postback's `extra`. */
  extra: Record<string, unknown>
  /** The postback's revenue_type for an ad; null = derived (B: cpa, else cpe); contents never have one. */
  revenue_type: RevenueType | null
  created_at: number
  updated_at: number
}

/**
 * What a catalog snapshot keeps of a campaign: every field but the targeting rules compiled into its
 * predicate (unit, country and installed apps stay: the index, the explanation and the item read them) and
 * the row's timestamps. About half the fields: with 100,000 campaigns, ≈ 30 MB less heap.
 */
export type ServedCampaign = Omit<Campaign, CompiledAway>
type CompiledAway =
  | Exclude<keyof Targeting, 'target_unit' | 'target_country' | 'target_app'>
  | 'created_at'
  | 'updated_at'

/** One upstream ad network of a unit. */
export type AdSource = {
  name: string
  /** Receives a JSON POST describing the device and unit; answers `{"ads": [...]}`. */
  url: string
  /** The source's own time limit (ms); the allocation deadline for upstreams caps it. */
  timeout_ms: number
  revenue_type: 'cpm' | 'cpc' | 'cpa'
}

export type Unit = {
  id: number
  app_id: number
  name: string
  unit_type: string
  platform: string
  country: string
  timezone: string
  is_active: boolean
  first_display_ratio: string
  page_display_ratio: string
  page_limit: number
  shuffle_option: number
  request_trigger: number
  request_period: number
  base_reward: number
  base_init_period: number
  postback_url: string | null
  postback_hmac_key: string | null
  postback_headers: Record<string, string>
  filtered_providers: number[]
  /** Upstream ad networks asked in parallel with the local lookup (JSON over HTTP). */
  ad_sources: AdSource[]
  /** The publisher organisation: its own campaigns (same owner_id) are "media" (is_media 1). */
  owner_id: number | null
  /** Rewards per user and hour at most (all kinds), and base rewards per user and hour (v1 settings). */
  hour_limit: number
  base_hour_limit: number
  ad_type: UnitSupply
  content_type: UnitSupply
  /** Whether the unit's app shows cardview landings (else they open in the browser). */
  supports_cardview: boolean
  /** AES key and IV (16, 24 or 32 / 16 characters) for the postback's encrypted `data` field. */
  postback_aes_key: string | null
  postback_aes_iv: string | null
  created_at: number
  updated_at: number
}

export type ContentCategory = { id: string; name: string; icon_url: string; sort_order: number }
export type ContentChannel = { id: number; category: string; name: string; icon_url: string }

/** The wildcard that makes a targeting list match everything. */
export const GLOB = '__GLOB__'
