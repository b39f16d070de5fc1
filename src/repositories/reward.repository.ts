import type { Kysely } from 'kysely'
import type { AttemptOutcome, Postback, PostbackStatus } from '../domain/postback.js'
import type { Database, RewardLedgerTable } from '../infra/database/schema.js'
import { num } from './sql-resource.repository.js'

/** One reward as the ledger records it (campaign 0: the unit's base reward). */
export type LedgerEntry = Omit<RewardLedgerTable, 'id'>

/** A postback ready to send, built once the ledger id (the transaction_id) is known. */
export type PostbackDraft = { url: string; headers: Record<string, string>; body: string }

/** The reward ledger and the postback outbox, written together in one transaction. */
export function createRewardRepository(db: Kysely<Database>, dialect: 'sqlite' | 'mysql') {
  return {
    /**
     * Records a reward and its postback atomically; 'duplicate' when the ledger already has this
     * (device, campaign, action, period), however many callers race.
     */
    async grant(
      entry: LedgerEntry,
      postback: ((transactionId: number) => PostbackDraft) | undefined,
    ): Promise<{ transactionId: number } | 'duplicate'> {
      try {
        // Racing inserts of one unique key can make InnoDB pick a deadlock victim: retry, then it is a duplicate.
        return await retryOnDeadlock(() =>
          db.transaction().execute(async (trx) => {
            const { insertId } = await trx.insertInto('reward_ledger').values(entry).executeTakeFirstOrThrow()
            const transactionId = Number(insertId)
            if (postback) {
              const draft = postback(transactionId)
              await trx
                .insertInto('postback_outbox')
                .values({
                  ledger_id: transactionId,
                  unit_id: entry.unit_id,
                  url: draft.url,
                  headers: JSON.stringify(draft.headers),
                  body: draft.body,
                  status: 'pending',
                  attempts: 0,
                  next_attempt_at: entry.created_at,
                  claim: null,
                  last_status: null,
                  last_error: null,
                  created_at: entry.created_at,
                  updated_at: entry.created_at,
                })
                .execute()
            }
            return { transactionId }
          }),
        )
      } catch (err) {
        if (isUniqueViolation(err)) return 'duplicate'
        throw err
      }
    },

    async ledgerCount(deviceId: number): Promise<number> {
      const row = await db
        .selectFrom('reward_ledger')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('device_id', '=', deviceId)
        .executeTakeFirstOrThrow()
      return num(row.n)
    },

    /**
     * Claims up to `limit` due postbacks for `leaseMs`: no other worker gets them until the lease ends,
     * so a worker that dies mid-delivery hands its rows back by itself.
     */
    async claimDue(now: number, limit: number, leaseMs: number, claim: string): Promise<Postback[]> {
      if (dialect === 'mysql') {
        // READ COMMITTED takes no gap locks; SKIP LOCKED passes over rows another worker is claiming.
        await retryOnDeadlock(() =>
          db
            .transaction()
            .setIsolationLevel('read committed')
            .execute(async (trx) => {
              const rows = await trx
                .selectFrom('postback_outbox')
                .select('id')
                .where('status', '=', 'pending')
                .where('next_attempt_at', '<=', now)
                .orderBy('next_attempt_at')
                .limit(limit)
                .forUpdate()
                .skipLocked()
                .execute()
              if (rows.length === 0) return
              await trx
                .updateTable('postback_outbox')
                .set({ claim, next_attempt_at: now + leaseMs, updated_at: now })
                .where(
                  'id',
                  'in',
                  rows.map((r) => r.id),
                )
                .execute()
            }),
        )
      } else {
        // SQLite serialises writers, so one UPDATE picks and claims atomically.
        await db
          .updateTable('postback_outbox')
          .set({ claim, next_attempt_at: now + leaseMs, updated_at: now })
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('postback_outbox')
              .select('id')
              .where('status', '=', 'pending')
              .where('next_attempt_at', '<=', now)
              .orderBy('next_attempt_at')
              .limit(limit),
          )
          .execute()
      }
      const rows = await db
        .selectFrom('postback_outbox')
        .selectAll()
        .where('claim', '=', claim)
        .where('status', '=', 'pending')
        .execute()
      return rows.map(postbackFromRow)
    },

    /** Records one attempt's outcome, only if the claim is still ours (a late, dead worker changes nothing). */
    async finishAttempt(id: number, claim: string, outcome: AttemptOutcome, now: number): Promise<boolean> {
      const result = await db
        .updateTable('postback_outbox')
        .set((eb) => ({
          status: outcome.status,
          attempts: eb('attempts', '+', 1),
          next_attempt_at: outcome.nextAttemptAt,
          claim: null,
          last_status: outcome.httpStatus,
          last_error: outcome.error?.slice(0, 500) ?? null,
          updated_at: now,
        }))
        .where('id', '=', id)
        .where('claim', '=', claim)
        .executeTakeFirst()
      return Number(result.numUpdatedRows) === 1
    },

    /** Hands back the rows still pending under `claim` (a worker stopping): due at `now`, for any worker. */
    async release(claim: string, now: number): Promise<number> {
      const result = await db
        .updateTable('postback_outbox')
        .set({ claim: null, next_attempt_at: now, updated_at: now })
        .where('claim', '=', claim)
        .where('status', '=', 'pending')
        .executeTakeFirst()
      return Number(result.numUpdatedRows)
    },

    async list(status: PostbackStatus | undefined, limit: number, offset: number): Promise<Postback[]> {
      let query = db
        .selectFrom('postback_outbox')
        .selectAll()
        .orderBy('id', 'desc')
        .limit(limit)
        .offset(offset)
      if (status) query = query.where('status', '=', status)
      return (await query.execute()).map(postbackFromRow)
    },

    async get(id: number): Promise<Postback | undefined> {
      const row = await db.selectFrom('postback_outbox').selectAll().where('id', '=', id).executeTakeFirst()
      return row && postbackFromRow(row)
    },

    /** Makes a postback due now again (whatever its status); false if there is no such postback. */
    async retry(id: number, now: number): Promise<boolean> {
      const result = await db
        .updateTable('postback_outbox')
        .set({ status: 'pending', next_attempt_at: now, claim: null, updated_at: now })
        .where('id', '=', id)
        .executeTakeFirst()
      return Number(result.numUpdatedRows) === 1
    },
  }
}

type OutboxRow = Awaited<ReturnType<ReturnType<typeof selectOutbox>['executeTakeFirstOrThrow']>>
const selectOutbox = (db: Kysely<Database>) => db.selectFrom('postback_outbox').selectAll()

function postbackFromRow(row: OutboxRow): Postback {
  return {
    id: num(row.id),
    transaction_id: num(row.ledger_id),
    unit_id: num(row.unit_id),
    url: row.url,
    headers: JSON.parse(row.headers),
    body: row.body,
    status: row.status as PostbackStatus,
    attempts: num(row.attempts),
    next_attempt_at: num(row.next_attempt_at),
    last_status: row.last_status === null ? null : num(row.last_status),
    last_error: row.last_error,
    created_at: num(row.created_at),
    updated_at: num(row.updated_at),
  }
}

/** InnoDB may still pick a deadlock victim between two claimers; the claim is safe to repeat. */
async function retryOnDeadlock<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await work()
    } catch (err) {
      const code = (err as { code?: string }).code
      if (i >= attempts || (code !== 'ER_LOCK_DEADLOCK' && code !== 'ER_LOCK_WAIT_TIMEOUT')) throw err
      await new Promise((r) => setTimeout(r, 5 * i))
    }
  }
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string }).code
  return (
    code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  )
}
