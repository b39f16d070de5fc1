import type { Kysely } from 'kysely'
import { tableOptions } from './table-options.js'

/**
 * Budgets leased in slices (issue #20): `budget_pools` holds, per campaign and budget period (`t` for the
 * total, `d:yyyymmdd` for a UTC day), how much is committed (consumed plus still leased); `budget_leases`
 * holds each process's slice: granted, consumed as it last reported, and until when it holds it. A slice is
 * taken in one statement on the pool row; spending it costs no I/O; a lapsed lease (its holder died) is
 * reclaimed: what it had not reported consumed goes back to the pool.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await tableOptions(db)(
    db.schema
      .createTable('budget_pools')
      .addColumn('campaign_id', 'bigint', (c) => c.notNull())
      .addColumn('period', 'varchar(16)', (c) => c.notNull())
      .addColumn('committed', 'bigint', (c) => c.notNull())
      // SQLite reads the last slice's size back from here (RETURNING sees the new row; MySQL uses LAST_INSERT_ID).
      .addColumn('last_granted', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('budget_pools_pk', ['campaign_id', 'period']),
  ).execute()
  await tableOptions(db)(
    db.schema
      .createTable('budget_leases')
      .addColumn('holder', 'varchar(64)', (c) => c.notNull())
      .addColumn('campaign_id', 'bigint', (c) => c.notNull())
      .addColumn('period', 'varchar(16)', (c) => c.notNull())
      .addColumn('granted', 'bigint', (c) => c.notNull())
      .addColumn('consumed', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('budget_leases_pk', ['holder', 'campaign_id', 'period']),
  ).execute()
  await db.schema.createIndex('budget_leases_expiry').on('budget_leases').column('expires_at').execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('budget_leases').ifExists().execute()
  await db.schema.dropTable('budget_pools').ifExists().execute()
}
