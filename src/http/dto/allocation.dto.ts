import { type Static, Type } from '@sinclair/typebox'
import { StringEnum } from './common.dto.js'

const Text = (maxLength: number) => Type.Optional(Type.String({ maxLength }))
const Int = (minimum: number, maximum: number) => Type.Optional(Type.Integer({ minimum, maximum }))

/** `POST /api/allocation/` body, form-encoded or JSON (DESIGN §3). Unknown fields are ignored. */
export const AllocationRequestSchema = Type.Object({
  unit_id: Type.Integer({ minimum: 1 }),
  device_id: Type.Integer({ minimum: 1 }),
  ifa: Text(64),
  unit_device_token: Text(255),
  sdk_version: Int(0, 1_000_000_000),
  device_name: Text(128),
  device_os: Int(0, 1000),
  carrier: Text(64),
  language: Text(35),
  country: Text(8),
  timezone: Text(64),
  year_of_birth: Int(1900, 2100),
  sex: Type.Optional(StringEnum(['M', 'F', 'm', 'f', ''])),
  region: Text(128),
  custom_target_1: Text(4096),
  custom_target_2: Text(4096),
  custom_target_3: Text(4096),
  installed_packages: Text(65536),
  excluded: Text(8192),
})
export type AllocationRequestDto = Static<typeof AllocationRequestSchema>

const ItemSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  type: Type.String(),
  is_ad: Type.Boolean(),
  title: Type.String(),
  description: Type.String(),
  image: Type.String(),
  click_url: Type.String(),
  impression_urls: Type.Array(Type.String()),
  landing_type: Type.Integer(),
  display_type: Type.String(),
  first_display_priority: Type.Integer(),
  first_display_weight: Type.Integer(),
  slot: Type.Array(Type.Integer(), { description: 'allowed local hours in the next 12 hours' }),
  started_at: Type.Integer({ description: 'epoch seconds' }),
  ended_at: Type.Integer({ description: 'epoch seconds' }),
  ipu: Type.Union([Type.Integer(), Type.Null()]),
  dipu: Type.Union([Type.Integer(), Type.Null()]),
  tipu: Type.Union([Type.Integer(), Type.Null()]),
  unlock_reward: Type.Integer(),
  landing_reward: Type.Integer(),
  action_reward: Type.Integer(),
  base_reward: Type.Integer(),
  category: Type.Union([Type.String(), Type.Null()]),
  channel: Type.Union([Type.Integer(), Type.Null()]),
  payload: Type.String(),
})

const SettingsSchema = Type.Object({
  first_display_ratio: Type.String(),
  page_display_ratio: Type.String(),
  page_limit: Type.Integer(),
  base_init_period: Type.Integer(),
  request_trigger: Type.Integer(),
  request_period: Type.Integer(),
  shuffle_option: Type.Integer(),
})

export const AllocationResponseSchema = Type.Object({
  code: Type.Literal(0),
  msg: Type.String(),
  campaigns: Type.Array(ItemSchema),
  settings: SettingsSchema,
})
