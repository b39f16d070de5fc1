import { type Static, Type } from '@sinclair/typebox'
import { IdText, IntText, OptionalIdText } from './common.dto.js'

const Text = (maxLength: number) => Type.Optional(Type.String({ maxLength }))

/**
 * The v1 allocation fields (docs/architecture.md §W2), as the SDK sends them: form values, so every number is
 * a decimal string (JSON numbers are accepted too). Unknown fields are ignored, as v1 does.
 */
const allocationFields = {
  unit_id: OptionalIdText,
  app_id: OptionalIdText,
  device_id: IdText,
  unit_device_token: Type.String({
    minLength: 1,
    maxLength: 255,
    pattern: '^[^\\u0000]',
    description: "the publisher's user id; must not be empty or start with a NUL byte",
  }),
  ifa: Text(64),
  sdk_version: Type.Optional(IntText),
  timezone: Text(64),
  year_of_birth: Type.Optional(IntText),
  sex: Text(8),
  region: Text(128),
  carrier: Text(64),
  country: Text(8),
  language: Text(64),
  device_os: Type.Optional(IntText),
  device_name: Text(128),
  registered_date: Type.Optional(IntText),
  custom_target_1: Text(4096),
  custom_target_2: Text(4096),
  custom_target_3: Text(4096),
  categories: Text(4096),
  filter_categories: Text(4096),
  filter_channel_ids: Text(4096),
  settings_page_display_ratio: Text(8),
  excluded: Text(8192),
}

/** `POST /api/allocation/`: `timezone`, a non-empty `ifa` and a non-zero `sdk_version` are required. */
export const AllocationRequestSchema = Type.Object({
  ...allocationFields,
  ifa: Type.String({ minLength: 1, maxLength: 64 }),
  sdk_version: Type.String({ pattern: '^0*[1-9][0-9]{0,8}$', description: 'SDK version, non-zero' }),
  timezone: Type.String({ minLength: 1, maxLength: 64 }),
})
/** `POST /api/content_allocation/`: the same fields, none of those three required. */
export const ContentAllocationRequestSchema = Type.Object(allocationFields)
export type AllocationRequestDto = Static<typeof ContentAllocationRequestSchema>

const Strings = Type.Array(Type.String())
const Nullable = <T extends ReturnType<typeof Type.Object>>(schema: T) => Type.Union([schema, Type.Null()])

/**
 * One item of `campaigns` / `native_ads` (docs/architecture.md §W3.2), keys in v1's order and v1's JSON
 * types.
 */
export const ItemSchema = Type.Object({
  action_reward: Type.Integer(),
  adchoice_url: Type.String(),
  base_reward: Type.Integer(),
  category: Type.String({ description: "the content's categories, comma-joined; '' for ads" }),
  channel_id: Type.Optional(Type.Integer()),
  channel: Nullable(Type.Object({ id: Type.Integer(), logo: Type.String(), name: Type.String() })),
  clean_mode: Type.Integer(),
  click_url: Type.String({ description: 'the click-redirect URL (with the SDK placeholders)' }),
  click_beacons: Type.Optional(Strings),
  display_type: Type.String(),
  ended_at: Type.Integer({ description: 'epoch seconds' }),
  extra: Type.Record(Type.String(), Type.Unknown()),
  fail_trackers: Type.Optional(Strings),
  first_display_priority: Type.Number(),
  first_display_weight: Type.Integer(),
  id: Type.Integer({ description: 'content id, or ad id + 1,000,000,000' }),
  image: Type.String(),
  impression_urls: Type.Optional(Strings),
  ipu: Type.Integer(),
  is_ad: Type.Boolean(),
  is_media: Type.Boolean(),
  landing_reward: Type.Integer(),
  landing_type: Type.Union([Type.Literal('browser'), Type.Literal('overlay'), Type.Literal('cardview')]),
  meta: Type.Null(),
  name: Type.String(),
  owner_id: Type.Integer(),
  payload: Type.String(),
  remove_after_impression: Type.Boolean(),
  slot: Type.String({ description: 'comma list of the local hours it may show in the next 12' }),
  started_at: Type.Integer({ description: 'epoch seconds' }),
  source_url: Type.String(),
  support_webp: Type.Boolean(),
  target_app: Type.String(),
  timezone: Type.String(),
  tipu: Type.Integer(),
  type: Type.String(),
  unit_price: Type.Integer(),
  unlock_reward: Type.Integer(),
  creative: Type.Null(),
  ad_report_data: Type.String(),
})
export type ItemDto = Static<typeof ItemSchema>

/** `settings` (docs/architecture.md §W3.1): all 15 keys, always. */
export const SettingsSchema = Type.Object({
  first_display_ratio: Type.String(),
  page_display_ratio: Type.String(),
  page_limit: Type.Integer(),
  base_init_period: Type.Integer(),
  request_trigger: Type.Integer(),
  request_period: Type.Integer(),
  hour_limit: Type.Integer(),
  base_hour_limit: Type.Integer(),
  external_base_reward: Type.Integer(),
  external_campaign_id: Type.Integer(),
  external_impression_cap: Type.Integer(),
  external_add_call_limit: Type.Integer(),
  shuffle_option: Type.Integer(),
  ad_filtering_words: Type.Union([Type.String(), Type.Null()]),
  web_ua: Type.Union([Type.String(), Type.Null()]),
})
export type SettingsDto = Static<typeof SettingsSchema>

const AllocationResponseSchema = Type.Object({
  campaigns: Type.Array(ItemSchema),
  msg: Type.Literal('ok'),
  code: Type.Literal(200),
  native_ads: Type.Array(ItemSchema),
  settings: SettingsSchema,
})

const ContentAllocationResponseSchema = Type.Object({
  campaigns: Type.Union([Type.Array(ItemSchema), Type.Null()]),
  msg: Type.Literal('ok'),
  code: Type.Literal(200),
})

/**
 * The allocation answers as the routes send them: JSON bytes written by the presenter (items are
 * pre-rendered per campaign), documented in OpenAPI with the object schemas above.
 */
export const AllocationResponseText = Type.Unsafe<Buffer>(AllocationResponseSchema)
export const ContentAllocationResponseText = Type.Unsafe<Buffer>(ContentAllocationResponseSchema)
