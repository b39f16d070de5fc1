import { type Static, Type } from '@sinclair/typebox'

// v1 bound device_id as an int64 (required, non-zero); ids beyond 2^53 are not exact in JavaScript.
const DeviceId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })

/** `GET /api/content/config/?device_id=N` (docs/architecture.md §W10). */
export const ContentConfigQuerySchema = Type.Object({ device_id: DeviceId })

/** `POST /api/content/config/`, form-encoded: store one opaque config string for a device. */
export const ContentConfigFormSchema = Type.Object({
  device_id: DeviceId,
  type: Type.String({
    minLength: 1,
    description: '`category`, `channel` or `campaign`; anything else is 400 "Unsupported config type"',
  }),
  config: Type.String({ description: 'stored verbatim; may be empty; at most 8 KiB of UTF-8' }),
})

/** The device's three config strings, '' for any it never stored (v1 field order). */
export const ContentConfigResponseSchema = Type.Object({
  status: Type.Literal('success'),
  device_id: Type.Integer(),
  channel: Type.String(),
  category: Type.String(),
  campaign: Type.String(),
})

export const ContentConfigSavedSchema = Type.Object({ message: Type.Literal('success') })

/** Allot's own listing (v1 has no categories route): every category in sort order. */
export const CategoriesResponseSchema = Type.Object({
  status: Type.Literal('success'),
  categories: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      icon_url: Type.String(),
      sort_order: Type.Integer(),
    }),
  ),
})

/** `GET /api/content/channels/?ids=1,2` (docs/architecture.md §W11). */
export const ChannelsQuerySchema = Type.Object({
  ids: Type.String({
    minLength: 1,
    maxLength: 4096,
    description: 'comma-separated channel ids; empty items and spaces around ids are ignored',
  }),
})

/** Channels keyed by their id as a string; unknown ids are absent (v1 field order). */
export const ChannelsResponseSchema = Type.Object({
  status: Type.Literal('success'),
  channels: Type.Record(
    Type.String({ pattern: '^[0-9]+$' }),
    Type.Object({
      id: Type.Integer(),
      category: Type.String(),
      icon_url: Type.String(),
      name: Type.String(),
    }),
  ),
})
export type ChannelsResponseDto = Static<typeof ChannelsResponseSchema>
