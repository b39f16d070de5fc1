import AjvCompiler from '@fastify/ajv-compiler'
import type { FastifyInstance } from 'fastify'
import { AllotError } from '../domain/errors.js'
import { decimalOf, integerOf } from './numbers.js'

const base = { removeAdditional: false, useDefaults: true, allErrors: false } as const
const coercing = AjvCompiler()({}, { customOptions: { ...base, coerceTypes: true } })
const strict = AjvCompiler()({}, { customOptions: { ...base, coerceTypes: false } })

/**
 * JSON bodies validated as they are, without type coercion: Ajv would turn the string "1e309" into
 * Infinity (and let it through an integer check) and "0x10" into 16. Query strings and path parameters
 * are text, so they keep coercion (their number fields are checked as plain decimals where it matters).
 */
export function strictJsonBodies(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, method, url, httpPart }) =>
    (httpPart === 'body' ? strict : coercing)({ schema, method, url, httpPart }),
  )
}

type SchemaNode = { type?: unknown; properties?: Record<string, SchemaNode> }

/** The properties of an object schema that are numbers (Ajv coerces them from text). */
function numericFields(schema: unknown): { name: string; integer: boolean }[] {
  const properties = (schema as SchemaNode | undefined)?.properties ?? {}
  return Object.entries(properties)
    .filter(([, p]) => p.type === 'integer' || p.type === 'number')
    .map(([name, p]) => ({ name, integer: p.type === 'integer' }))
}

type Parts = { query: unknown; params: unknown; body: unknown }

/** The request's part a schema part describes. */
function sourceOf(part: 'querystring' | 'params' | 'body', request: Parts): unknown {
  return part === 'querystring' ? request.query : part === 'params' ? request.params : request.body
}

/** A 400 naming the first of `fields` in `source` that is a number-like value but not a plain one. */
function checkPlain(
  part: string,
  fields: readonly { name: string; integer: boolean }[],
  source: unknown,
): void {
  if (typeof source !== 'object' || source === null) return
  for (const { name, integer } of fields) {
    const value = (source as Record<string, unknown>)[name]
    if ((typeof value === 'string' || typeof value === 'number') && !isPlain(value, integer))
      throw new AllotError(
        'InvalidField',
        `${part}.${name} must be a plain decimal ${integer ? 'integer' : 'number'}`,
      )
  }
}

/**
 * A JSON number is what it says (the schema checks it); text (query, path, form) must be plain ('' is v1's
 * "not sent", left to the schema and the route).
 */
function isPlain(value: string | number, integer: boolean): boolean {
  if (typeof value === 'number') return Number.isFinite(value)
  if (value === '') return true
  return (integer ? integerOf(value, { maxDigits: 16 }) : decimalOf(value)) !== undefined
}

/**
 * Query strings, path parameters and form bodies are text that Ajv coerces to numbers, and it coerces
 * loosely: "1e309" becomes Infinity (and passes an integer check), "0x10" 16, " 5 " 5. Every route's
 * numeric fields given as text must be what numbers.ts reads (`integerOf` with ≤ 16 digits, `decimalOf`),
 * else a 400 naming the field; Ajv then converts only such text. Other types are left to the schema.
 * Register before the routes: it reads each route's schema as the route is added.
 */
export function plainDecimalNumbers(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const parts = [
      ['querystring', numericFields(route.schema?.querystring)],
      ['params', numericFields(route.schema?.params)],
      ['body', numericFields(route.schema?.body)],
    ] as const
    if (parts.every(([, fields]) => fields.length === 0)) return
    const check = async (request: Parts) => {
      for (const [part, fields] of parts) checkPlain(`${part}`, fields, sourceOf(part, request))
    }
    const existing = route.preValidation
    route.preValidation = existing ? [check, ...(Array.isArray(existing) ? existing : [existing])] : [check]
  })
}
