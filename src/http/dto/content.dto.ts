import { Type } from '@sinclair/typebox'
import { CONTENT_CONFIG_TYPES } from '../../domain/content-config.js'
import { StringEnum } from './common.dto.js'

const DeviceId = Type.Integer({ minimum: 1 })

export const ContentConfigQuerySchema = Type.Object({ device_id: DeviceId })

/** `POST /api/content/config/`: turn one category, channel or campaign on or off for a device. */
export const ContentConfigChangeSchema = Type.Object({
  device_id: DeviceId,
  type: StringEnum(CONTENT_CONFIG_TYPES),
  id: Type.String({ minLength: 1, maxLength: 64 }),
  enabled: Type.Boolean(),
})

export const ContentConfigResponseSchema = Type.Object({
  code: Type.Literal(0),
  msg: Type.String(),
  config: Type.Object({
    device_id: Type.Integer(),
    category: Type.Array(Type.String(), { description: 'categories turned off' }),
    channel: Type.Array(Type.Integer(), { description: 'channels turned off' }),
    campaign: Type.Array(Type.Integer(), { description: 'single contents hidden' }),
  }),
})

export const CategoriesResponseSchema = Type.Object({
  code: Type.Literal(0),
  msg: Type.String(),
  categories: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      icon_url: Type.String(),
      sort_order: Type.Integer(),
    }),
  ),
})

export const ChannelsQuerySchema = Type.Object({ category: Type.Optional(Type.String({ maxLength: 64 })) })

export const ChannelsResponseSchema = Type.Object({
  code: Type.Literal(0),
  msg: Type.String(),
  channels: Type.Array(
    Type.Object({
      id: Type.Integer(),
      category: Type.String(),
      name: Type.String(),
      icon_url: Type.String(),
    }),
  ),
})
