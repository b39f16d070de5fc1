import { AllotError } from '../domain/errors.js'

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
