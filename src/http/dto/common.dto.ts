import { type TSchema, type TUnsafe, Type } from '@sinclair/typebox'

/** A string enum as plain JSON Schema `enum` (clearer validation messages than a union of literals). */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: object = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })
}

export function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()])
}

const ErrorSchema = Type.Object(
  {
    code: Type.Integer({ description: 'stable non-zero error code' }),
    error: Type.String({ description: 'stable error name' }),
    msg: Type.String({ description: 'what is wrong, naming the field' }),
  },
  { $id: 'Error' },
)

/** Responses every route may give besides its success. */
export const errorResponses = {
  400: ErrorSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  404: ErrorSchema,
  409: ErrorSchema,
  413: ErrorSchema,
  415: ErrorSchema,
  422: ErrorSchema,
  429: ErrorSchema,
  500: ErrorSchema,
  503: ErrorSchema,
}

/** ISO 8601 with an offset in, ISO 8601 UTC out; epoch ms inside. */
export const IsoDateTime = Type.String({ format: 'date-time' })

/** An id's text: a plain decimal integer, 1 to 16 digits, no leading 0 (the range is `requiredIdOf`'s). */
export const ID_PATTERN = '^[1-9][0-9]{0,15}$'
/** An id on the wire: a plain decimal integer from 1 to 2^53 − 1 (no sign, exponent, hex or spaces). */
export const IdText = Type.String({ pattern: ID_PATTERN, description: 'integer id, 1 to 2^53 − 1' })
/** An optional id: empty or 0 mean "not sent", as in v1. */
export const OptionalIdText = Type.Optional(
  Type.String({ pattern: '^(0|[1-9][0-9]{0,15})?$', description: 'integer id, 1 to 2^53 − 1; 0 = none' }),
)
/** A plain decimal integer (empty = not sent). */
export const IntText = Type.String({ pattern: '^(-?[0-9]{1,10})?$', description: 'decimal integer' })
