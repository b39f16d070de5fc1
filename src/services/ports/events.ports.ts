import type { AttemptOutcome, Postback } from '../../domain/postback.js'
import type { GrantOutcome, PostbackDraft, RecordedGrant, RewardGrant } from '../../domain/reward.js'

/*
 * Ports of the events feature (events and money): the reward ledger and its postback outbox, the delivery
 * counters, the budget pools and leases (all SQL), the shared once-guard (Redis), outbound postback HTTP.
 */

/** The reward ledger + outbox port (SQL): exactly one row per (device, campaign, action, period). */
export type RewardLedger = {
  grant(
    entry: RewardGrant,
    postback: ((grant: RecordedGrant) => PostbackDraft) | undefined,
  ): Promise<GrantOutcome>
}

/** One increment of a delivery counter; a new (or expired) counter expires after `ttlSeconds` when given. */
export type CounterIncrement = { key: string; by: number; ttlSeconds?: number | undefined }

/** The delivery counters' store of record (SQL): increments in batches, and what changed since when. */
export type CounterStore = {
  /** Adds every increment, in one statement (an expired counter restarts). */
  addMany(increments: readonly CounterIncrement[]): Promise<void>
  /** Live counters changed at or after `since` (epoch ms); 0 = all of them. */
  changedSince(since: number): Promise<{ key: string; value: number }[]>
}

/** A budget pool as the store knows it: a campaign's budget in one period, and its limit now. */
export type BudgetPool = { campaignId: number; period: string; limit: number }

/** What a holder consumed of one lease so far (absolute). */
export type LeaseUse = { campaignId: number; period: string; consumed: number }

/** The budget pools and leases' store of record (SQL). */
export type BudgetLeaseStore = {
  lease(holder: string, pool: BudgetPool, want: number, now: number, expiresAt: number): Promise<number>
  /** Records consumption and extends the leases; answers those that no longer exist (reclaimed). */
  report(holder: string, uses: readonly LeaseUse[], expiresAt: number): Promise<LeaseUse[]>
  release(holder: string, uses: readonly LeaseUse[], now: number): Promise<void>
  reclaimLapsed(now: number): Promise<number>
}

/** The shared level (Redis in production): claims a key for `ttlMs` if nobody holds it; false when taken. */
export type SharedOnce = { claim(key: string, ttlMs: number): Promise<boolean> }

/** A claimed postback, as the worker needs it. */
export type OutboxItem = Pick<Postback, 'id' | 'url' | 'headers' | 'body' | 'attempts'>

/** The outbox port (SQL): claims are leases, so several workers never send one row at once. */
export type Outbox = {
  claimDue(now: number, limit: number, leaseMs: number, claim: string): Promise<OutboxItem[]>
  finishAttempt(id: number, claim: string, outcome: AttemptOutcome, now: number): Promise<boolean>
  /**
   * Hands back the rows still pending under `claim`: due at `now`, for any worker to claim at once; rows in
   * `keep` (sent, outcome not recorded) stay claimed until their lease ends.
   */
  release(claim: string, now: number, keep?: readonly number[]): Promise<number>
}

/** Outbound HTTP (undici in production, MockAgent in tests); resolves with the status code. */
export type PostbackTransport = {
  post(
    url: string,
    headers: Record<string, string>,
    body: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<number>
}
