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
