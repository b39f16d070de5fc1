import assert from 'node:assert/strict'
import { type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

/*
 * The v1 SDK's view of Allot's answers (SDK-CONTRACT §1, §10, §11), written out here rather than taken from
 * the route schemas: a route schema that drifted would otherwise agree with itself. Objects are closed
 * (no extra keys), so a renamed or added key fails as loudly as a wrong JSON type.
 */
const closed = { additionalProperties: false }

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
export function assertWire(schema: TSchema, body: unknown, label = 'answer'): void {
  const errors = [...Value.Errors(schema, body)].map((e) => `${e.path || '/'}: ${e.message}`)
  assert.deepEqual(errors, [], `${label} does not have the v1 shape: ${JSON.stringify(body)?.slice(0, 500)}`)
}
