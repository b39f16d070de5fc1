import { type Kysely, sql, type Transaction } from 'kysely'
import type { Database } from '../infra/database/schema.js'
import { num } from './sql-resource.repository.js'

/** One increment of a delivery counter (new or expired counters expire after `ttlSeconds` when given). */
export type CounterIncrement = { key: string; by: number; ttlSeconds?: number | undefined }

type Executor = Kysely<Database> | Transaction<Database>

/**
 * Delivery counters in the SQL database, the store of record for budgets: an increment is one atomic
 * upsert (an expired counter restarts), so concurrent increments from any number of processes are never
 * lost and the value read back is exactly this increment's.
 */
export function createSqlCounterRepository(db: Kysely<Database>, dialect: Dialect, clock: () => number) {
  return {
    async increment(key: string, by: number, ttlSeconds?: number): Promise<number> {
      const now = clock()
      if (dialect === 'sqlite') return incrementIn(db, dialect, key, by, ttlSeconds, now)
      return db.transaction().execute((trx) => incrementIn(trx, dialect, key, by, ttlSeconds, now))
    },
    /** Adds every increment in one statement (an expired counter restarts at the increment). */
    addMany: (increments: readonly CounterIncrement[]) => addMany(db, dialect, increments, clock()),
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
    /** Deletes expired counters and once-keys; returns how many went. */
    async purgeExpired(now: number): Promise<number> {
      const counters = await db
        .deleteFrom('delivery_counters')
        .where('expires_at', '<=', now)
        .executeTakeFirst()
      const events = await db.deleteFrom('counted_events').where('expires_at', '<=', now).executeTakeFirst()
      return Number(counters.numDeletedRows) + Number(events.numDeletedRows)
    },
  }
}

type Dialect = 'sqlite' | 'mysql'

/** Adds `by` to a counter through `ex`; returns the value this increment made. */
async function incrementIn(
  ex: Executor,
  dialect: Dialect,
  key: string,
  by: number,
  ttlSeconds: number | undefined,
  now: number,
): Promise<number> {
  const expiresAt = ttlSeconds === undefined ? null : now + ttlSeconds * 1000
  const row = { name: key, value: by, expires_at: expiresAt, updated_at: now }
  if (dialect === 'sqlite') {
    const expired = sql<boolean>`delivery_counters.expires_at is not null and delivery_counters.expires_at <= ${now}`
    const result = await ex
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
  const expired = sql<boolean>`expires_at is not null and expires_at <= ${now}`
  await ex
    .insertInto('delivery_counters')
    .values(row)
    .onDuplicateKeyUpdate({
      value: sql`if(${expired}, ${by}, value + ${by})`,
      expires_at: sql`if(${expired}, ${expiresAt}, expires_at)`,
      updated_at: now,
    })
    .execute()
  // Inside a transaction the upsert holds the row's lock until commit: this is the value it made.
  const after = await ex
    .selectFrom('delivery_counters')
    .select('value')
    .where('name', '=', key)
    .executeTakeFirstOrThrow()
  return num(after.value)
}

/** Rows a multi-row upsert carries at most. */
const CHUNK = 500

async function addMany(
  db: Kysely<Database>,
  dialect: Dialect,
  increments: readonly CounterIncrement[],
  now: number,
): Promise<void> {
  const rows = increments.map((i) => ({
    name: i.key,
    value: i.by,
    expires_at: i.ttlSeconds === undefined ? null : now + i.ttlSeconds * 1000,
    updated_at: now,
  }))
  for (let at = 0; at < rows.length; at += CHUNK) {
    const insert = db.insertInto('delivery_counters').values(rows.slice(at, at + CHUNK))
    if (dialect === 'sqlite') {
      const expired = sql<boolean>`delivery_counters.expires_at is not null and delivery_counters.expires_at <= ${now}`
      await insert
        .onConflict((oc) =>
          oc.column('name').doUpdateSet({
            value: sql`case when ${expired} then excluded.value else delivery_counters.value + excluded.value end`,
            expires_at: sql`case when ${expired} then excluded.expires_at else delivery_counters.expires_at end`,
            updated_at: now,
          }),
        )
        .execute()
      continue
    }
    // MySQL evaluates the assignments left to right: expires_at is still the old one when value reads it.
    const expired = sql<boolean>`expires_at is not null and expires_at <= ${now}`
    await insert
      .onDuplicateKeyUpdate({
        value: sql`if(${expired}, values(value), value + values(value))`,
        expires_at: sql`if(${expired}, values(expires_at), expires_at)`,
        updated_at: now,
      })
      .execute()
  }
}
