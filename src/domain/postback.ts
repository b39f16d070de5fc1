/** A postback row of the outbox: one reward to tell the publisher about (see README "Postbacks"). */

export type PostbackStatus = 'pending' | 'delivered' | 'failed'

export type Postback = {
  id: number
  /** The grant's transaction_id (random, at most 32 characters). */
  transaction_id: string
  unit_id: number
  url: string
  headers: Record<string, string>
  /** The form-encoded body, exactly as sent. */
  body: string
  status: PostbackStatus
  attempts: number
  next_attempt_at: number
  last_status: number | null
  last_error: string | null
  created_at: number
  updated_at: number
}

/** What one delivery attempt did to a row. */
export type AttemptOutcome = {
  status: PostbackStatus
  nextAttemptAt: number
  httpStatus: number | null
  error: string | null
}
