import type { Generated } from 'kysely'

/** Table shapes as stored. Lists and maps are JSON in text columns; times are epoch milliseconds. */
export type UnitsTable = {
  id: Generated<number>
  app_id: number
  name: string
  unit_type: string
  platform: string
  country: string
  timezone: string
  is_active: number
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
  postback_headers: string
  filtered_providers: string
  /** JSON array; null on rows written before migration 0004 (read as []). */
  ad_sources: string | null
  owner_id: number | null
  hour_limit: number
  base_hour_limit: number
  ad_type: string
  content_type: string
  supports_cardview: number
  postback_aes_key: string | null
  postback_aes_iv: string | null
  created_at: number
  updated_at: number
}

export type CampaignsTable = {
  id: Generated<number>
  is_ad: number
  name: string
  type: string
  owner_id: number | null
  provider_id: number | null
  channel_id: number | null
  categories: string
  title: string
  description: string
  image: string
  click_url: string
  impression_urls: string
  landing_type: number
  display_type: string
  display_weight: number
  first_display_priority: number
  status: string
  start_date: number
  end_date: number
  published_at: number | null
  week_slot: string
  ipu: number | null
  dipu: number | null
  tipu: number | null
  budget_type: string | null
  budget_daily: number | null
  budget_total: number | null
  budget_pacing: string
  unlock_reward: number
  landing_reward: number
  action_reward: number
  /** Every list-valued targeting field and exclusion, as one JSON object keyed by wire name. */
  target_lists: string
  target_age_min: number | null
  target_age_max: number | null
  detarget_age_min: number | null
  detarget_age_max: number | null
  target_os_min: number | null
  target_os_max: number | null
  detarget_os_min: number | null
  detarget_os_max: number | null
  target_sdk_min: number | null
  target_sdk_max: number | null
  detarget_sdk_min: number | null
  detarget_sdk_max: number | null
  registered_days_min: number | null
  registered_days_max: number | null
  clean_link: string
  clean_mode: number
  /** JSON object: publisher-defined data sent as the item's `extra` and the postback's `extra`. */
  extra: string | null
  revenue_type: string | null
  created_at: number
  updated_at: number
}

export type CategoriesTable = { id: string; name: string; icon_url: string; sort_order: number }
export type ChannelsTable = { id: Generated<number>; category: string; name: string; icon_url: string }

/** The v1 SDK's content config: three opaque strings, '' when never set (docs/architecture.md §W10). */
export type DeviceContentConfigsTable = {
  device_id: number
  category: string
  channel: string
  campaign: string
  updated_at: number
}

/** Installed package names per app and advertising id, comma-separated (docs/architecture.md §W1). */
export type InstalledAppsTable = { app_id: number; ifa: string; packages: string; updated_at: number }

/** One row (id 1) whose version moves with every catalog write, so other processes notice. */
export type CatalogStateTable = { id: number; version: number }

export type DeviceProfilesTable = { device_id: number; category_scores: string; updated_at: number }
export type DeviceRegistrationsTable = { device_id: number; unit_id: number; registered_at: number }
export type DeviceActivityTable = {
  id: Generated<number>
  device_id: number
  campaign_id: number
  type: string
  at: number
  expires_at: number
}

export type RewardLedgerTable = {
  id: Generated<number>
  /** Random, at most 32 characters: the postback's transaction_id (ids written before 0005: the row id). */
  transaction_id: string
  device_id: number
  unit_id: number
  campaign_id: number
  source_campaign_id: number
  action_type: string
  period: string
  point: number
  base_point: number
  created_at: number
}

/** One base-reward part per device, unit and period; its row decides which grant carried it. */
export type RewardBaseClaimsTable = {
  device_id: number
  unit_id: number
  period: string
  transaction_id: string
}

export type PostbackOutboxTable = {
  id: Generated<number>
  ledger_id: number
  /** The grant's transaction_id (null only on rows written before migration 0005). */
  transaction_id: string | null
  unit_id: number
  url: string
  /** JSON object of header name → value, signature included. */
  headers: string
  /** The form-encoded body, exactly as sent. */
  body: string
  status: string
  attempts: number
  next_attempt_at: number
  claim: string | null
  last_status: number | null
  last_error: string | null
  created_at: number
  updated_at: number
  /** The grant's campaign and report day (null on rows written before migration 0009: not reported). */
  campaign_id: number | null
  report_day: string | null
}

/** Grants (and base parts) one publisher user received on a unit in one UTC hour. */
export type RewardUserHoursTable = {
  unit_id: number
  user_id: string
  hour: number
  grants: number
  base_grants: number
}

/** A delivery counter: impressions or clicks of a campaign, in total or for one day. */
export type DeliveryCountersTable = {
  name: string
  value: number
  expires_at: number | null
  updated_at: number
}

/** An event that counts once (see migration 0010): its key, and when the guard may go. */
export type CountedEventsTable = { name: string; expires_at: number }

/** A campaign's budget in one period (`t` total, `d:yyyymmdd` a UTC day): consumed plus still leased. */
export type BudgetPoolsTable = {
  campaign_id: number
  period: string
  committed: number
  last_granted: number
  updated_at: number
}

/** One process's slice of a budget pool. */
export type BudgetLeasesTable = {
  holder: string
  campaign_id: number
  period: string
  granted: number
  consumed: number
  expires_at: number
}

/** A delivery report counter (see src/domain/report.ts): campaign_id is 0 on unit counters. */
export type ReportCountersTable = {
  kind: string
  day: string
  unit_id: number
  campaign_id: number
  metric: string
  /** The writer's connection's shard (MySQL); a report sums them. */
  shard: Generated<number>
  value: number
  updated_at: number
}

/** A device's last-seen attributes (see src/domain/reach.ts); one row a device. */
export type DeviceSeenTable = {
  device_id: number
  sample: number
  seen_at: number
  unit_id: number
  app_id: number
  country: string | null
  gender: string | null
  language: string | null
  carrier: string | null
  region: string | null
  year_of_birth: number | null
  os: number | null
  sdk: number | null
  registered_at: number | null
  custom_target_1: string | null
  custom_target_2: string | null
  custom_target_3: string | null
}

/** One instance's live figures for the fleet view (migration 0013): JSON, ignored after `expires_at`. */
export type FleetInstancesTable = { instance_id: string; at: number; expires_at: number; figures: string }

export type Database = {
  units: UnitsTable
  campaigns: CampaignsTable
  categories: CategoriesTable
  channels: ChannelsTable
  device_content_configs: DeviceContentConfigsTable
  catalog_state: CatalogStateTable
  device_profiles: DeviceProfilesTable
  device_registrations: DeviceRegistrationsTable
  device_activity: DeviceActivityTable
  reward_ledger: RewardLedgerTable
  reward_base_claims: RewardBaseClaimsTable
  postback_outbox: PostbackOutboxTable
  delivery_counters: DeliveryCountersTable
  counted_events: CountedEventsTable
  budget_pools: BudgetPoolsTable
  budget_leases: BudgetLeasesTable
  reward_user_hours: RewardUserHoursTable
  installed_apps: InstalledAppsTable
  report_counters: ReportCountersTable
  device_seen: DeviceSeenTable
  fleet_instances: FleetInstancesTable
}
