import { type Static, Type } from '@sinclair/typebox'
import {
  BUDGET_PACINGS,
  BUDGET_TYPES,
  CAMPAIGN_STATUSES,
  CAMPAIGN_TYPES,
  DISPLAY_TYPES,
  REVENUE_TYPES,
  UNIT_SUPPLY,
} from '../../domain/catalog.js'
import { MAX_CAMPAIGN_ID } from '../../domain/sdk-v1.js'
import { TARGETING_BOUND_KEYS, TARGETING_LIST_KEYS } from '../../domain/targeting-fields.js'
import { IdText, IsoDateTime, Nullable, StringEnum } from './common.dto.js'

const Id = Type.Integer({ minimum: 1, maximum: 2_147_483_647 })
/**
 * Campaign ids stay below 1,000,000,000: ads go on the wire as id + 1,000,000,000 (docs/architecture.md
 * §W3.2).
 */
const CampaignId = Type.Integer({ minimum: 1, maximum: MAX_CAMPAIGN_ID })
const Count = Type.Integer({ minimum: 0, maximum: 2_147_483_647 })
const Url = Type.String({ maxLength: 2048 })
const TargetList = Type.Array(Type.String({ maxLength: 255 }), { maxItems: 10_000 })
const Bound = Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000_000 }))

/** The targeting fields' properties, from the table in src/domain/targeting-fields.ts (wire order). */
const listTargetProps = Object.fromEntries(TARGETING_LIST_KEYS.map((key) => [key, TargetList])) as Record<
  string,
  typeof TargetList
>
const rangeTargetProps = Object.fromEntries(TARGETING_BOUND_KEYS.map((key) => [key, Bound])) as Record<
  string,
  typeof Bound
>

/** Every writable campaign field as the admin API takes it (times as ISO 8601 with an offset). */
const campaignFields = {
  is_ad: Type.Boolean(),
  name: Type.String({ minLength: 1, maxLength: 255 }),
  type: StringEnum(CAMPAIGN_TYPES, { description: 'C content; I CPM, J CPC, B action (ads)' }),
  owner_id: Nullable(Id),
  provider_id: Nullable(Id),
  channel_id: Nullable(Id),
  categories: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 32 }),
  title: Type.String({ maxLength: 512 }),
  description: Type.String({ maxLength: 8192 }),
  image: Url,
  click_url: Url,
  impression_urls: Type.Array(Url, { maxItems: 16 }),
  landing_type: Type.Integer({
    minimum: 0,
    maximum: 100,
    description: '1 browser, 2 overlay, 3 cardview (where the unit supports it), 10 YouTube (overlay)',
  }),
  display_type: StringEnum(DISPLAY_TYPES),
  display_weight: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
  first_display_priority: Type.Integer({ minimum: -1000, maximum: 1000 }),
  status: StringEnum(CAMPAIGN_STATUSES),
  start_date: IsoDateTime,
  end_date: IsoDateTime,
  published_at: Nullable(IsoDateTime),
  week_slot: Type.Array(Type.Integer({ minimum: 0, maximum: 167 }), { maxItems: 168 }),
  ipu: Nullable(Count),
  dipu: Nullable(Count),
  tipu: Nullable(Count),
  budget_type: Nullable(StringEnum(BUDGET_TYPES)),
  budget_daily: Nullable(Count),
  budget_total: Nullable(Count),
  budget_pacing: StringEnum(BUDGET_PACINGS),
  unlock_reward: Count,
  landing_reward: Count,
  action_reward: Count,
  clean_link: Url,
  clean_mode: Type.Integer({ minimum: 0, maximum: 3 }),
  extra: Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), {
    maxProperties: 50,
    description: "publisher-defined data: the item's and the postback's `extra`",
  }),
  revenue_type: Nullable(StringEnum(REVENUE_TYPES, { description: 'ads only; null = cpa for B, else cpe' })),
  ...listTargetProps,
  ...rangeTargetProps,
}

export const CampaignCreateSchema = Type.Object(
  {
    ...Type.Partial(Type.Object(campaignFields)).properties,
    id: Type.Optional(CampaignId),
    name: campaignFields.name,
    type: campaignFields.type,
    start_date: campaignFields.start_date,
    end_date: campaignFields.end_date,
  },
  { additionalProperties: false },
)
export const CampaignPatchSchema = Type.Partial(Type.Object(campaignFields), { additionalProperties: false })
export const CampaignSchema = Type.Object({
  ...campaignFields,
  id: CampaignId,
  created_at: IsoDateTime,
  updated_at: IsoDateTime,
})
export type CampaignCreateDto = Static<typeof CampaignCreateSchema>
export type CampaignPatchDto = Static<typeof CampaignPatchSchema>

const unitFields = {
  app_id: Id,
  name: Type.String({ maxLength: 255 }),
  unit_type: Type.String({ minLength: 1, maxLength: 32 }),
  platform: Type.String({ minLength: 1, maxLength: 32 }),
  country: Type.String({ minLength: 2, maxLength: 8 }),
  timezone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA timezone, e.g. Asia/Seoul' }),
  is_active: Type.Boolean(),
  first_display_ratio: Type.String({ pattern: '^\\d+:\\d+$' }),
  page_display_ratio: Type.String({ pattern: '^\\d+:\\d+$' }),
  page_limit: Type.Integer({ minimum: 1, maximum: 500 }),
  shuffle_option: Type.Integer({ minimum: 0, maximum: 10 }),
  request_trigger: Type.Integer({ minimum: 0, maximum: 1000 }),
  request_period: Type.Integer({ minimum: 0, maximum: 604_800 }),
  base_reward: Count,
  base_init_period: Type.Integer({ minimum: 1, maximum: 31_536_000 }),
  postback_url: Nullable(Type.String({ format: 'uri', maxLength: 2048 })),
  postback_hmac_key: Nullable(Type.String({ maxLength: 255 })),
  postback_headers: Type.Record(Type.String(), Type.String({ maxLength: 1024 })),
  filtered_providers: Type.Array(Id, { maxItems: 1000 }),
  owner_id: Nullable(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
  hour_limit: Type.Integer({ minimum: 0, maximum: 1000 }),
  base_hour_limit: Type.Integer({ minimum: 0, maximum: 1000 }),
  ad_type: StringEnum(UNIT_SUPPLY, { description: "'none': the unit gets no ads" }),
  content_type: StringEnum(UNIT_SUPPLY, { description: "'none': the unit gets no contents" }),
  supports_cardview: Type.Boolean(),
  postback_aes_key: Nullable(Type.String({ minLength: 16, maxLength: 32 })),
  postback_aes_iv: Nullable(Type.String({ minLength: 16, maxLength: 16 })),
  ad_sources: Type.Array(
    Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 64 }),
        url: Type.String({ format: 'uri', maxLength: 2048 }),
        timeout_ms: Type.Integer({ minimum: 1, maximum: 10_000, default: 80 }),
        revenue_type: StringEnum(['cpm', 'cpc', 'cpa'], { default: 'cpm' }),
      },
      { additionalProperties: false },
    ),
    { maxItems: 10 },
  ),
}

export const UnitCreateSchema = Type.Object(
  { ...Type.Partial(Type.Object(unitFields)).properties, id: Type.Optional(Id), app_id: unitFields.app_id },
  { additionalProperties: false },
)
export const UnitPatchSchema = Type.Partial(Type.Object(unitFields), { additionalProperties: false })
export const UnitSchema = Type.Object({
  ...unitFields,
  id: Id,
  created_at: IsoDateTime,
  updated_at: IsoDateTime,
})

const categoryFields = {
  name: Type.String({ minLength: 1, maxLength: 255 }),
  icon_url: Url,
  sort_order: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
}
export const CategoryCreateSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9_-]{1,64}$' }),
    name: categoryFields.name,
    icon_url: Type.Optional(Url),
    sort_order: Type.Optional(categoryFields.sort_order),
  },
  { additionalProperties: false },
)
export const CategoryPatchSchema = Type.Partial(Type.Object(categoryFields), { additionalProperties: false })
export const CategorySchema = Type.Object({ id: Type.String(), ...categoryFields })

const channelFields = {
  category: Type.String({ minLength: 1, maxLength: 64 }),
  name: Type.String({ minLength: 1, maxLength: 255 }),
  icon_url: Url,
}
export const ChannelCreateSchema = Type.Object(
  {
    id: Type.Optional(Id),
    category: channelFields.category,
    name: channelFields.name,
    icon_url: Type.Optional(Url),
  },
  { additionalProperties: false },
)
export const ChannelPatchSchema = Type.Partial(Type.Object(channelFields), { additionalProperties: false })
export const ChannelSchema = Type.Object({ id: Id, ...channelFields })

/** `?limit=&offset=` as plain decimals: limit 1–1000 (default 100), offset 0–999,999,999 (default 0). */
export const PageQuerySchema = Type.Object({
  limit: Type.String({ pattern: '^([1-9][0-9]{0,2}|1000)$', default: '100', description: '1 to 1000' }),
  offset: Type.String({ pattern: '^(0|[1-9][0-9]{0,8})$', default: '0', description: '0 to 999,999,999' }),
})
export const NumericIdParamsSchema = Type.Object({ id: IdText })
export const StringIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })
