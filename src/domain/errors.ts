/** Stable error codes; HTTP status and numeric wire codes are assigned once, in the HTTP error handler. */
export type ErrorCode =
  | 'InvalidField'
  | 'MalformedBody'
  | 'UnsupportedMediaType'
  | 'BodyTooLarge'
  | 'Unauthorized'
  | 'RouteNotFound'
  | 'RateLimited'
  | 'ResourceNotFound'
  | 'AlreadyExists'
  | 'InUse'
  | 'UnsupportedConfigType'
  | 'UnitNotFound'
  | 'UnitInactive'
  | 'InvalidPayload'
  | 'InvalidCheck'
  | 'Unprocessable'
  | 'DuplicateReward'
  | 'CapReached'
  | 'BudgetExhausted'
  | 'ServiceUnavailable'
  | 'Internal'

/** An expected failure with a stable code and a message that names the offending field. */
export class AllotError extends Error {
  override name = 'AllotError'
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/**
 * Why a dependency failed a call: it refused or dropped the connection, it did not answer within its time
 * limit, or this process already waits on as many of its calls as it allows.
 */
export type UnavailableReason = 'unreachable' | 'timeout' | 'overloaded'

/** A store this request needs (database, Redis, DynamoDB) failed it; retrying later may succeed (503). */
export class DependencyUnavailable extends AllotError {
  override name = 'DependencyUnavailable'
  constructor(
    readonly dependency: string,
    readonly reason: UnavailableReason,
    cause?: unknown,
  ) {
    super(
      'ServiceUnavailable',
      `${dependency} ${reason === 'timeout' ? 'did not answer in time' : `is ${reason}`}`,
    )
    if (cause !== undefined) this.cause = cause
  }
}
