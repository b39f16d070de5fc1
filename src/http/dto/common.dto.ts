import { type TSchema, type TUnsafe, Type } from '@sinclair/typebox'
import { AllotError } from '../../domain/errors.js'

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

export function toIso(ms: number): string {
  return new Date(ms).toISOString()
}

export function toIsoOrNull(ms: number | null): string | null {
  return ms === null ? null : toIso(ms)
}

/** An id on the wire: a plain decimal integer from 1 to 2^53 − 1 (no sign, exponent, hex or spaces). */
export const IdText = Type.String({ pattern: '^[1-9][0-9]{0,15}$', description: 'integer id, 1 to 2^53 − 1' })
/** An optional id: empty or 0 mean "not sent", as in v1. */
export const OptionalIdText = Type.Optional(
  Type.String({ pattern: '^(0|[1-9][0-9]{0,15})?$', description: 'integer id, 1 to 2^53 − 1; 0 = none' }),
)
/** A plain decimal integer (empty = not sent). */
export const IntText = Type.String({ pattern: '^(-?[0-9]{1,10})?$', description: 'decimal integer' })

/** An id field's value; a 400 naming the field past 2^53 − 1 (it would silently round). */
export function requiredIdOf(field: string, text: string): number {
  const id = Number(text)
  if (!Number.isSafeInteger(id) || id < 1)
    throw new AllotError('InvalidField', `${field} must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}`)
  return id
}

export function optionalIdOf(field: string, text: string | undefined): number | undefined {
  return text === undefined || text === '' || text === '0' ? undefined : requiredIdOf(field, text)
}

/** A decimal integer field, undefined when empty or absent. */
export function intOf(text: string | undefined): number | undefined {
  return text === undefined || text === '' ? undefined : Number(text)
}
