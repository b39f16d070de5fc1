import { type ExpressionBuilder, type Kysely, sql, type Transaction } from 'kysely'
import type { Database } from '../infra/database/schema.js'
import { num, retryOnDeadlock } from './sql-resource.repository.js'

type Dialect = 'sqlite' | 'mysql'

/** One budget pool: a campaign's budget in one period, and its limit now (the campaign's, read by the caller). */
export type PoolRef = { campaignId: number; period: string; limit: number }

/** What a holder reports of one of its leases: how much of it it has consumed so far (absolute). */
export type LeaseUse = { campaignId: number; period: string; consumed: number }

/**
 * Budget pools and leases in SQL, the store of record of budgets (migration 0011). A slice is taken from a
 * pool in one statement on its row (MySQL: `committed + LAST_INSERT_ID(LEAST(want, ⌈left / 4⌉))`, the
 * grant read back from the same statement; SQLite: a compare-and-set), so a pool row is locked for one
 * statement per slice, never per event.
 */
export function createBudgetLeaseRepository(db: Kysely<Database>, dialect: Dialect) {
  /** Pools this process has made sure exist. */
  const known = new Set<string>()
  return {
    /** Takes up to `want` from the pool for `holder` until `expiresAt`; the amount granted (0 when none is left). */
    async lease(
      holder: string,
      pool: PoolRef,
      want: number,
      now: number,
      expiresAt: number,
    ): Promise<number> {
      const key = `${pool.campaignId}|${pool.period}`
      // Created on its own, outside the slice's transaction: an INSERT IGNORE meeting the row takes a shared
      // lock that racing slices would each try to upgrade (a deadlock).
      if (!known.has(key)) {
        await ensurePool(db, dialect, pool, now)
        known.add(key)
      }
      return retryOnDeadlock(() =>
        db.transaction().execute(async (trx) => {
          const granted = await take(trx, dialect, pool, want, now)
          if (granted > 0) await addLease(trx, dialect, holder, pool, granted, expiresAt)
          return granted
        }),
      )
    },
    /** Records what the holder consumed of each lease and extends them; the leases that no longer exist. */
    report: (holder: string, uses: readonly LeaseUse[], expiresAt: number) =>
      report(db, holder, uses, expiresAt),
    /** Gives back what the holder did not consume of these leases, and ends them. */
    release: (holder: string, uses: readonly LeaseUse[], now: number) =>
      retryOnDeadlock(() =>
        db.transaction().execute(async (trx) => {
          for (const use of uses) await endLease(trx, holder, use, now)
        }),
      ),
    /** Ends the leases that lapsed before `now` (their holders died): what they had not reported goes back. */
    reclaimLapsed: (now: number) => reclaimLapsed(db, now),
    /** A pool's committed amount (consumed plus leased); 0 when it has none yet. */
    async committed(campaignId: number, period: string): Promise<number> {
      const row = await db
        .selectFrom('budget_pools')
        .select('committed')
        .where('campaign_id', '=', campaignId)
        .where('period', '=', period)
        .executeTakeFirst()
      return row ? num(row.committed) : 0
    },
    /** Deletes day pools older than `oldestDay` (`d:yyyymmdd`) with no lease left on them. */
    async purgeDays(oldestDay: string): Promise<number> {
      const result = await db
        .deleteFrom('budget_pools')
        .where('period', 'like', 'd:%')
        .where('period', '<', oldestDay)
        .executeTakeFirst()
      return Number(result.numDeletedRows)
    },
  }
}

async function ensurePool(db: Kysely<Database>, dialect: Dialect, pool: PoolRef, now: number) {
  const insert = db.insertInto('budget_pools').values({
    campaign_id: pool.campaignId,
    period: pool.period,
    committed: 0,
    last_granted: 0,
    updated_at: now,
  })
  await (dialect === 'mysql' ? insert.ignore() : insert.onConflict((oc) => oc.doNothing())).execute()
}

/**
 * Moves up to `want` into the pool's committed amount, at most a quarter of what is left (at least 1, never
 * past the limit), so one process never holds the tail of a budget other processes could serve; what moved.
 */
async function take(
  trx: Transaction<Database>,
  dialect: Dialect,
  { campaignId, period, limit }: PoolRef,
  want: number,
  now: number,
): Promise<number> {
  if (dialect === 'mysql') {
    const result = await sql`update budget_pools
      set committed = committed + last_insert_id(least(${want}, greatest(1, ceil((${limit} - committed) / 4)))),
        updated_at = ${now}
      where campaign_id = ${campaignId} and period = ${period} and committed < ${limit}`.execute(trx)
    return Number(result.numAffectedRows ?? 0n) > 0 ? Number(result.insertId ?? 0n) : 0
  }
  // One write first, so the transaction takes SQLite's write lock (waiting its busy timeout) instead of
  // failing to upgrade a read; every SET expression sees the old row, so both compute the same slice.
  const slice = sql<number>`min(${want}, max(1, cast((${limit} - committed + 3) / 4 as integer)))`
  const row = await trx
    .updateTable('budget_pools')
    .set({ committed: sql`committed + ${slice}`, last_granted: slice, updated_at: now })
    .where('campaign_id', '=', campaignId)
    .where('period', '=', period)
    .where('committed', '<', limit)
    .returning('last_granted')
    .executeTakeFirst()
  return row ? num(row.last_granted) : 0
}

async function addLease(
  trx: Transaction<Database>,
  dialect: Dialect,
  holder: string,
  pool: PoolRef,
  granted: number,
  expiresAt: number,
) {
  const row = {
    holder,
    campaign_id: pool.campaignId,
    period: pool.period,
    granted,
    consumed: 0,
    expires_at: expiresAt,
  }
  const insert = trx.insertInto('budget_leases').values(row)
  if (dialect === 'mysql')
    await insert
      .onDuplicateKeyUpdate({ granted: sql`granted + values(granted)`, expires_at: sql`values(expires_at)` })
      .execute()
  else
    await insert
      .onConflict((oc) =>
        oc.columns(['holder', 'campaign_id', 'period']).doUpdateSet({
          granted: sql`budget_leases.granted + excluded.granted`,
          expires_at: sql`excluded.expires_at`,
        }),
      )
      .execute()
}

async function report(
  db: Kysely<Database>,
  holder: string,
  uses: readonly LeaseUse[],
  expiresAt: number,
): Promise<LeaseUse[]> {
  if (uses.length === 0) return []
  return retryOnDeadlock(() =>
    db.transaction().execute(async (trx) => {
      const gone: LeaseUse[] = []
      for (const use of uses) {
        const { numUpdatedRows } = await trx
          .updateTable('budget_leases')
          .set({ consumed: use.consumed, expires_at: expiresAt })
          .where('holder', '=', holder)
          .where('campaign_id', '=', use.campaignId)
          .where('period', '=', use.period)
          .executeTakeFirst()
        if (numUpdatedRows === 0n) gone.push(use)
      }
      return gone
    }),
  )
}

/**
 * Ends one lease: the pool gets back what was granted and not consumed (`consumed` as last known, or as the
 * lease recorded, whichever is more). Writes first (no read-then-write: SQLite could not upgrade its lock).
 */
async function endLease(trx: Transaction<Database>, holder: string, use: LeaseUse, now: number) {
  const consumed = sql`case when consumed > ${use.consumed} then consumed else ${use.consumed} end`
  const unused = sql<number>`case when granted > ${consumed} then granted - ${consumed} else 0 end`
  const lease = (eb: ExpressionBuilder<Database, 'budget_pools'>) =>
    eb
      .selectFrom('budget_leases')
      .select(unused.as('unused'))
      .where('holder', '=', holder)
      .where('campaign_id', '=', use.campaignId)
      .where('period', '=', use.period)
  await trx
    .updateTable('budget_pools')
    .set((eb) => ({ committed: sql`committed - coalesce((${lease(eb)}), 0)`, updated_at: now }))
    .where('campaign_id', '=', use.campaignId)
    .where('period', '=', use.period)
    .execute()
  await trx
    .deleteFrom('budget_leases')
    .where('holder', '=', holder)
    .where('campaign_id', '=', use.campaignId)
    .where('period', '=', use.period)
    .execute()
}

/** Each lapsed lease ends in its own transaction (a holder reporting meanwhile finds it gone). */
async function reclaimLapsed(db: Kysely<Database>, now: number): Promise<number> {
  const lapsed = await db
    .selectFrom('budget_leases')
    .select(['holder', 'campaign_id', 'period', 'consumed'])
    .where('expires_at', '<', now)
    .execute()
  for (const l of lapsed) {
    const use = { campaignId: num(l.campaign_id), period: l.period, consumed: num(l.consumed) }
    await retryOnDeadlock(() =>
      db.transaction().execute(async (trx) => {
        // Still lapsed? Its holder may have renewed it since the read above.
        const { numUpdatedRows } = await trx
          .updateTable('budget_leases')
          .set({ expires_at: sql`expires_at` })
          .where('holder', '=', l.holder)
          .where('campaign_id', '=', use.campaignId)
          .where('period', '=', use.period)
          .where('expires_at', '<', now)
          .executeTakeFirst()
        if (numUpdatedRows > 0n) await endLease(trx, l.holder, use, now)
      }),
    )
  }
  return lapsed.length
}
