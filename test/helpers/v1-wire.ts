import assert from 'node:assert/strict'
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

/*
 * The v1 SDK's view of Allot's answers (docs/architecture.md §W1, §W10, §W11), written out here rather than taken from
 * the route schemas: a route schema that drifted would otherwise agree with itself. Objects are closed
 * (no extra keys), so a renamed or added key fails as loudly as a wrong JSON type.
 */
const closed = { additionalProperties: false }

const Strings = Type.Array(Type.String())
/** One v1 item (docs/architecture.md §W3.2): every key with its v1 JSON type, no other key. */
export const V1Item = Type.Object(
  {
    action_reward: Type.Integer(),
    adchoice_url: Type.String(),
    base_reward: Type.Integer(),
    category: Type.String(),
    channel_id: Type.Optional(Type.Integer()),
    channel: Type.Union([
      Type.Object({ id: Type.Integer(), logo: Type.String(), name: Type.String() }, closed),
      Type.Null(),
    ]),
    clean_mode: Type.Integer(),
    click_url: Type.String(),
    click_beacons: Type.Optional(Strings),
    display_type: Type.String(),
    ended_at: Type.Integer(),
    extra: Type.Record(Type.String(), Type.Unknown()),
    fail_trackers: Type.Optional(Strings),
    first_display_priority: Type.Number(),
    first_display_weight: Type.Integer(),
    id: Type.Integer(),
    image: Type.String(),
    impression_urls: Type.Optional(Strings),
    ipu: Type.Integer(),
    is_ad: Type.Boolean(),
    is_media: Type.Boolean(),
    landing_reward: Type.Integer(),
    landing_type: Type.Union([Type.Literal('browser'), Type.Literal('overlay'), Type.Literal('cardview')]),
    meta: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    name: Type.String(),
    owner_id: Type.Integer(),
    payload: Type.String(),
    remove_after_impression: Type.Boolean(),
    slot: Type.String({ pattern: '^$|^(\\d|1\\d|2[0-3])(,(\\d|1\\d|2[0-3]))*$' }),
    started_at: Type.Integer(),
    source_url: Type.String(),
    support_webp: Type.Boolean(),
    target_app: Type.String(),
    timezone: Type.String(),
    tipu: Type.Integer(),
    type: Type.String(),
    unit_price: Type.Integer(),
    unlock_reward: Type.Integer(),
    creative: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    ad_report_data: Type.String(),
  },
  closed,
)
export type V1ItemType = Static<typeof V1Item>

/** `settings` (docs/architecture.md §W3.1): the 15 keys. */
export const V1Settings = Type.Object(
  {
    first_display_ratio: Type.String({ pattern: '^\\d+:\\d+$' }),
    page_display_ratio: Type.String({ pattern: '^\\d+:\\d+$' }),
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
  },
  closed,
)

export const V1Allocation = Type.Object(
  {
    campaigns: Type.Array(V1Item),
    msg: Type.Literal('ok'),
    code: Type.Literal(200),
    native_ads: Type.Array(V1Item),
    settings: V1Settings,
  },
  closed,
)
export const V1ContentAllocation = Type.Object(
  {
    campaigns: Type.Union([Type.Array(V1Item), Type.Null()]),
    msg: Type.Literal('ok'),
    code: Type.Literal(200),
  },
  closed,
)
export const V1Unlock = Type.Object({ reward_received: Type.Integer() }, closed)
export const V1Impression = Type.Object({ msg: Type.Literal('ok'), status: Type.Literal(200) }, closed)

/** `GET /api/content/config/` → 200 (§10). */
export const V1ContentConfig = Type.Object(
  {
    status: Type.Literal('success'),
    device_id: Type.Integer(),
    channel: Type.String(),
    category: Type.String(),
    campaign: Type.String(),
  },
  closed,
)

/** `POST /api/content/config/` → 200 (§10). */
export const V1ContentConfigSaved = Type.Object({ message: Type.Literal('success') }, closed)

/** `POST /api/content/config/` with another type → 400; v1 sent only `error`, Allot adds its code and msg. */
export const V1UnsupportedConfigType = Type.Object({ error: Type.Literal('Unsupported config type') })

/** `GET /api/content/channels/?ids=…` → 200 (§11): channels keyed by their id as a string. */
export const V1Channels = Type.Object(
  {
    status: Type.Literal('success'),
    channels: Type.Record(
      Type.String({ pattern: '^[0-9]+$' }),
      Type.Object(
        { id: Type.Integer(), category: Type.String(), icon_url: Type.String(), name: Type.String() },
        closed,
      ),
    ),
  },
  closed,
)

/** `GET /api/content/categories/` → 200: Allot's own route (no v1 one), in the same style. */
export const AllotCategories = Type.Object(
  {
    status: Type.Literal('success'),
    categories: Type.Array(
      Type.Object(
        { id: Type.String(), name: Type.String(), icon_url: Type.String(), sort_order: Type.Integer() },
        closed,
      ),
    ),
  },
  closed,
)

/** `POST /api/update_installed_apps/` → 200 (§1/§2). */
export const V1InstalledAppsUpdated = Type.Object({ update_period: Type.Literal(86400) }, closed)

/** Allot's error body: `{code, error, msg}`. */
export const AllotErrorBody = Type.Object(
  { code: Type.Integer(), error: Type.String(), msg: Type.String() },
  closed,
)

/** Fails with every mismatch (path, message) when `body` is not of `schema`'s shape. */
export function assertWire<T extends TSchema>(
  schema: T,
  body: unknown,
  label = 'answer',
): asserts body is Static<T> {
  const errors = [...Value.Errors(schema, body)].map((e) => `${e.path || '/'}: ${e.message}`)
  assert.deepEqual(errors, [], `${label} does not have the v1 shape: ${JSON.stringify(body)?.slice(0, 500)}`)
}
