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

export const ErrorSchema = Type.Object(
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
  500: ErrorSchema,
}

/** ISO 8601 with an offset in, ISO 8601 UTC out; epoch ms inside. */
export const IsoDateTime = Type.String({ format: 'date-time' })

export function toIso(ms: number): string {
  return new Date(ms).toISOString()
}

export function toIsoOrNull(ms: number | null): string | null {
  return ms === null ? null : toIso(ms)
}
