import type { FastifyError, FastifyInstance } from 'fastify'
import { AllotError, DependencyUnavailable, type ErrorCode } from '../domain/errors.js'

/**
 * HTTP status and numeric wire code of every stable error code; never renumber a code. `text` is the exact
 * `error` string the v1 SDKs know for that case (docs/architecture.md §W12); without one, `error` is the
 * code's name.
 */
const ERROR_TABLE: Record<ErrorCode, { status: number; code: number; text?: string }> = {
  InvalidField: { status: 400, code: 1001 },
  MalformedBody: { status: 400, code: 1002 },
  UnsupportedMediaType: { status: 415, code: 1003 },
  BodyTooLarge: { status: 413, code: 1004 },
  RouteNotFound: { status: 404, code: 1005 },
  Unauthorized: { status: 401, code: 1101 },
  ResourceNotFound: { status: 404, code: 1102 },
  AlreadyExists: { status: 409, code: 1103 },
  InUse: { status: 409, code: 1104 },
  UnsupportedConfigType: { status: 400, code: 1006, text: 'Unsupported config type' },
  RateLimited: { status: 429, code: 1007 },
  UnitNotFound: { status: 400, code: 2001, text: "unit can't be nil" },
  UnitInactive: { status: 403, code: 2002, text: 'unit is inactive' },
  InvalidPayload: { status: 400, code: 3001 },
  DuplicateReward: { status: 409, code: 3002 },
  CapReached: { status: 409, code: 3003 },
  BudgetExhausted: { status: 409, code: 3004 },
  InvalidCheck: { status: 400, code: 3005 },
  Unprocessable: { status: 422, code: 3006 },
  ServiceUnavailable: { status: 503, code: 9003 },
  Internal: { status: 500, code: 9000 },
}

// Fastify's own client errors, by their FST_ codes.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UnsupportedMediaType',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MalformedBody',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MalformedBody',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MalformedBody',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BodyTooLarge',
  FST_ERR_CTP_INVALID_TYPE: 'UnsupportedMediaType',
}

export type ErrorBody = { code: number; error: string; msg: string }

/** What a 503 asks the client to wait before retrying (seconds): dependencies fail fast, so retry soon. */
const RETRY_AFTER_SECONDS = 1

/** Installs the single place where errors become HTTP responses; a 5xx never shows internals. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AllotError, request, reply) => {
    const { code, message } = classify(err)
    const entry = ERROR_TABLE[code]
    if (code === 'ServiceUnavailable') {
      // Expected while a store is down: one line without a stack, and a hint for the client's retry.
      const { dependency, reason } =
        err instanceof DependencyUnavailable ? err : { dependency: 'unknown', reason: '' }
      request.log.warn({ dependency, reason, cause: describeCause(err) }, 'dependency unavailable')
      reply.header('retry-after', String(RETRY_AFTER_SECONDS))
    } else if (entry.status >= 500) request.log.error({ err }, 'unhandled error')
    const body: ErrorBody = {
      code: entry.code,
      error: entry.text ?? code,
      msg:
        code === 'ServiceUnavailable'
          ? 'temporarily unavailable; retry after the Retry-After delay'
          : entry.status >= 500
            ? 'internal error; see the server log for this request id'
            : message,
    }
    return reply.status(entry.status).send(body)
  })
  app.setNotFoundHandler((request, reply) => {
    const entry = ERROR_TABLE.RouteNotFound
    const body: ErrorBody = {
      code: entry.code,
      error: 'RouteNotFound',
      msg: `no route for ${request.method} ${request.url.split('?')[0]}`,
    }
    return reply.status(entry.status).send(body)
  })
}

function describeCause(err: Error): string | undefined {
  const cause = err.cause as { message?: string; code?: string } | undefined
  return cause ? [cause.code, cause.message].filter(Boolean).join(' ') : undefined
}

function classify(err: FastifyError | AllotError): { code: ErrorCode; message: string } {
  if (err instanceof AllotError) return { code: err.code, message: err.message }
  if (err.validation) return { code: 'InvalidField', message: describeValidation(err) }
  const known = err.code ? FASTIFY_CODES[err.code] : undefined
  if (known) return { code: known, message: fastifyMessage(known, err) }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    // Other client errors raised by Fastify or a plugin (e.g. a malformed form body).
    return { code: err.statusCode === 413 ? 'BodyTooLarge' : 'MalformedBody', message: err.message }
  }
  return { code: 'Internal', message: 'internal error' }
}

function fastifyMessage(code: ErrorCode, err: FastifyError): string {
  switch (code) {
    case 'UnsupportedMediaType':
      return 'content-type must be application/json or application/x-www-form-urlencoded'
    case 'BodyTooLarge':
      return 'body is larger than the configured limit (BODY_LIMIT_BYTES)'
    default:
      return `body is malformed: ${err.message}`
  }
}

/** "body.unit_id must be integer": names the field, whichever part of the request it is in. */
function describeValidation(err: FastifyError): string {
  const first = err.validation?.[0]
  if (!first) return err.message
  const context = err.validationContext ?? 'body'
  const params = first.params as Record<string, unknown>
  if (first.keyword === 'required') return `${context}.${String(params.missingProperty)} is required`
  if (first.keyword === 'additionalProperties') {
    return `${context}.${String(params.additionalProperty)} is not a known field`
  }
  const path = first.instancePath.replace(/^\//, '').replaceAll('/', '.')
  const field = path ? `${context}.${path}` : context
  if (first.keyword === 'enum') return `${field} must be one of ${JSON.stringify(params.allowedValues)}`
  return `${field} ${first.message ?? 'is invalid'}`
}
