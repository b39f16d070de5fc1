import { AllotError } from '../domain/errors.js'

/*
 * The one conversion of request text to numbers (docs/architecture.md §4.1). Every number that reaches Allot
 * as text (form fields, query strings, path parameters) is read by `integerOf` or `decimalOf`: the request
 * mappers in presenters/ call them directly or through the id and int helpers below, and the guard in
 * validation.ts calls them before Ajv coerces a schema-typed number field.
 */

const ZERO = 48
const NINE = 57

/** True when text[from, to) is one or more ASCII digits. */
function isDigits(text: string, from: number, to: number): boolean {
  if (to <= from) return false
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i)
    if (c < ZERO || c > NINE) return false
  }
  return true
}

/**
 * A plain decimal integer's value: an optional minus sign (or plus, with `plus`), then 1 to `maxDigits` ASCII
 * digits and nothing else: no spaces, exponent, hex, fraction or separators ("1e3", "0x10", " 5 ", "5.0" are
 * undefined). Past 2^53 the value is rounded, as any number is: a caller that needs it exact checks
 * `Number.isSafeInteger` (the id helpers do).
 */
export function integerOf(
  text: string,
  { plus = false, maxDigits = Number.POSITIVE_INFINITY }: { plus?: boolean; maxDigits?: number } = {},
): number | undefined {
  const from = text[0] === '-' || (plus && text[0] === '+') ? 1 : 0
  return text.length - from <= maxDigits && isDigits(text, from, text.length) ? Number(text) : undefined
}

/** A plain decimal number's value: `integerOf` with at most 16 digits, then optionally `.` and 1 to 16 digits. */
export function decimalOf(text: string): number | undefined {
  const dot = text.indexOf('.')
  const end = dot === -1 ? text.length : dot
  const from = text[0] === '-' ? 1 : 0
  const whole = end - from <= 16 && isDigits(text, from, end)
  const fraction = dot === -1 || (text.length - dot - 1 <= 16 && isDigits(text, dot + 1, text.length))
  return whole && fraction ? Number(text) : undefined
}

/** An id field's value, exactly: 1 to 2^53 − 1, else a 400 naming the field (past it, it would silently round). */
export function requiredIdOf(field: string, text: string): number {
  const id = integerOf(text)
  if (id === undefined || !Number.isSafeInteger(id) || id < 1)
    throw new AllotError('InvalidField', `${field} must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}`)
  return id
}

/** An optional id field: absent, empty or 0 mean "not sent" (v1), else as `requiredIdOf`. */
export function optionalIdOf(field: string, text: string | undefined): number | undefined {
  return text === undefined || text === '' || text === '0' ? undefined : requiredIdOf(field, text)
}

/** A decimal integer field whose syntax its schema checked; undefined when empty or absent. */
export function intOf(text: string | undefined): number | undefined {
  return text === undefined || text === '' ? undefined : integerOf(text)
}
