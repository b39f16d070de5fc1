import { type Static, Type } from '@sinclair/typebox'
import { Nullable, StringEnum } from './common.dto.js'

const Payload = Type.String({ minLength: 1, maxLength: 4096, description: "the allocated item's payload" })
const Ids = {
  device_id: Type.Integer({ minimum: 1 }),
  unit_id: Type.Integer({ minimum: 1 }),
  campaign_id: Type.Integer({ minimum: 1 }),
}

/** `POST /api/impression/` body (form or JSON): `click_type=u` reports an unlock. */
export const ImpressionRequestSchema = Type.Object({
  payload: Payload,
  ...Ids,
  click_type: Type.Optional(StringEnum(['i', 'u', ''])),
})
export type ImpressionRequestDto = Static<typeof ImpressionRequestSchema>

/** `GET /api/click_redirect/` query. */
export const ClickQuerySchema = Type.Object({ payload: Payload, ...Ids })
export type ClickQueryDto = Static<typeof ClickQuerySchema>

const RewardSchema = Type.Object({
  transaction_id: Type.Integer(),
  action_type: Type.String(),
  point: Type.Integer(),
})

export const ImpressionResponseSchema = Type.Object({
  code: Type.Literal(0),
  msg: Type.String(),
  counted: Type.Boolean({ description: 'the impression counted toward caps, budgets and CTR' }),
  rewards: Type.Array(RewardSchema),
})

export const PostbackSchema = Type.Object({
  id: Type.Integer(),
  transaction_id: Type.Integer(),
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
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
})
