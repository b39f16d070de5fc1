import { type Static, Type } from '@sinclair/typebox'
import { PageQuerySchema } from './admin.dto.js'
import { IdText, IntText, Nullable, OptionalIdText, StringEnum } from './common.dto.js'

const Text = (maxLength: number) => Type.Optional(Type.String({ maxLength }))
const Int = Type.Optional(IntText)
/** A wire campaign id: 0 or absent means v1's placeholder campaign 1. */
const CampaignIdText = Type.Optional(Type.String({ pattern: '^[0-9]{0,16}$' }))
const Token = Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\u0000]' })
const Check = Type.String({
  maxLength: 64,
  description: 'md5 hex of the fields (docs/architecture.md §W7.2)',
})

/** `POST /api/impression/` and `POST /api/unlock`: the unlock form (docs/architecture.md §W8). */
export const UnlockRequestSchema = Type.Object({
  app_id: OptionalIdText,
  unit_id: OptionalIdText,
  device_id: IdText,
  ifa: Type.String({ minLength: 1, maxLength: 64 }),
  unit_device_token: Token,
  reward: Int,
  base_reward: Int,
  click_campaign_id: CampaignIdText,
  click_campaign_type: Text(8),
  click_campaign_name: Text(255),
  click_campaign_owner_id: Text(32),
  click_campaign_is_media: Int,
  click_type: Type.String({ maxLength: 8, description: "must be 'u'" }),
  slot: Int,
  click_campaign_payload: Text(4096),
  check: Type.Optional(Check),
  external_click_campaign_id: Text(255),
  external_click_campaign_imps: Text(255),
})
export type UnlockRequestDto = Static<typeof UnlockRequestSchema>

export const UnlockResponseSchema = Type.Object({ reward_received: Type.Integer() })

/** `GET /api/click_redirect/` (and its `external` twin): the click URL's query (docs/architecture.md §W5). */
export const ClickQuerySchema = Type.Object({
  app_id: OptionalIdText,
  unit_id: IdText,
  device_id: IdText,
  ifa: Type.String({ minLength: 1, maxLength: 64 }),
  unit_device_token: Text(255),
  client_unit_device_token: Text(255),
  campaign_id: CampaignIdText,
  campaign_type: Text(8),
  campaign_name: Type.String({ minLength: 1, maxLength: 255 }),
  campaign_owner_id: Text(32),
  campaign_is_media: Int,
  redirect_url: Text(4096),
  redirect_url_clean: Text(4096),
  reward: Int,
  base_reward: Int,
  slot: Int,
  campaign_payload: Text(4096),
  check: Type.Optional(Check),
  place: Text(255),
  position: Text(255),
  session_id: Text(255),
  use_clean_mode: Text(32),
  external_campaign_id: Text(255),
  false_click: Text(8),
  tracking_data: Text(4096),
})
export type ClickQueryDto = Static<typeof ClickQuerySchema>

/** `POST /api/rewards`: a landing reward after a stay (docs/architecture.md §W9). */
export const StayRewardRequestSchema = Type.Object({
  app_id: IdText,
  unit_id: OptionalIdText,
  device_id: IdText,
  ifa: Type.String({ minLength: 1, maxLength: 64 }),
  unit_device_token: Token,
  client_unit_device_token: Text(255),
  type: StringEnum(['imp']),
  campaign_id: IdText,
  campaign_type: Text(8),
  campaign_name: Type.String({ minLength: 1, maxLength: 255 }),
  campaign_owner_id: Text(32),
  campaign_is_media: Int,
  slot: Int,
  reward: Int,
  base_reward: Int,
  check: Type.Optional(Check),
})
export type StayRewardRequestDto = Static<typeof StayRewardRequestSchema>

/** `GET /api/content_impression/`: the beacon handed out in `impression_urls` (docs/architecture.md §W6). */
export const ImpressionQuerySchema = Type.Object({
  data: Type.String({ minLength: 1, maxLength: 4096 }),
  place: Text(255),
  position: Text(255),
  session_id: Text(255),
  tracking_data: Text(4096),
})

export const ImpressionResponseSchema = Type.Object({ msg: Type.Literal('ok'), status: Type.Literal(200) })

export const PostbackSchema = Type.Object({
  id: Type.Integer(),
  transaction_id: Type.String(),
  unit_id: Type.Integer(),
  url: Type.String(),
  body: Type.String(),
  status: StringEnum(['pending', 'delivered', 'failed']),
  attempts: Type.Integer(),
  next_attempt_at: Type.String(),
  last_status: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  created_at: Type.String(),
  updated_at: Type.String(),
})

export const PostbackListQuerySchema = Type.Object({
  status: Type.Optional(StringEnum(['pending', 'delivered', 'failed'])),
  ...PageQuerySchema.properties,
})
