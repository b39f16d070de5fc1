import { type Kysely, sql } from 'kysely'
import type { Database } from '../infra/database/schema.js'
import { num } from './sql-resource.repository.js'

/**
 * Delivery counters in the SQL database, the store of record for budgets: an increment is one atomic
 * upsert (an expired counter restarts), so concurrent increments from any number of processes are never
 * lost and the value read back is exactly this increment's.
 */
export function createSqlCounterRepository(
  db: Kysely<Database>,
  dialect: 'sqlite' | 'mysql',
  clock: () => number,
) {
  return {
    async increment(key: string, by: number, ttlSeconds?: number): Promise<number> {
      const now = clock()
      const expiresAt = ttlSeconds === undefined ? null : now + ttlSeconds * 1000
      const expired = sql<boolean>`delivery_counters.expires_at is not null and delivery_counters.expires_at <= ${now}`
      const row = { name: key, value: by, expires_at: expiresAt, updated_at: now }
      if (dialect === 'sqlite') {
        const result = await db
          .insertInto('delivery_counters')
          .values(row)
          .onConflict((oc) =>
            oc.column('name').doUpdateSet({
              value: sql`case when ${expired} then ${by} else delivery_counters.value + ${by} end`,
              expires_at: sql`case when ${expired} then ${expiresAt} else delivery_counters.expires_at end`,
              updated_at: now,
            }),
          )
          .returning('value')
          .executeTakeFirstOrThrow()
        return num(result.value)
      }
      // MySQL evaluates the assignments left to right: expires_at is still the old one when value reads it.
      const mysqlExpired = sql<boolean>`expires_at is not null and expires_at <= ${now}`
      return db.transaction().execute(async (trx) => {
        await trx
          .insertInto('delivery_counters')
          .values(row)
          .onDuplicateKeyUpdate({
            value: sql`if(${mysqlExpired}, ${by}, value + ${by})`,
            expires_at: sql`if(${mysqlExpired}, ${expiresAt}, expires_at)`,
            updated_at: now,
          })
          .execute()
        // The upsert holds the row's lock until commit: this is the value this increment made.
        const after = await trx
          .selectFrom('delivery_counters')
          .select('value')
          .where('name', '=', key)
          .executeTakeFirstOrThrow()
        return num(after.value)
      })
    },

    /** Live counters changed at or after `since` (epoch ms); 0 reads every live counter. */
    async changedSince(since: number): Promise<{ key: string; value: number }[]> {
      const now = clock()
      const rows = await db
        .selectFrom('delivery_counters')
        .select(['name', 'value'])
        .where('updated_at', '>=', since)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .execute()
      return rows.map((r) => ({ key: r.name, value: num(r.value) }))
    },

    /** Deletes expired counters; returns how many went. */
    async purgeExpired(now: number): Promise<number> {
      const result = await db
        .deleteFrom('delivery_counters')
        .where('expires_at', '<=', now)
        .executeTakeFirst()
      return Number(result.numDeletedRows)
    },
  }
}
