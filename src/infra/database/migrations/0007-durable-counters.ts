import type { Kysely } from 'kysely'
import { tableOptions } from './table-options.js'

/**
 * Delivery counters (impressions, clicks, per campaign in total and per day) move to the SQL database: they
 * decide budgets, which are money, so their store of record must survive losing a cache.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await tableOptions(db)(
    db.schema
      .createTable('delivery_counters')
      .addColumn('name', 'varchar(96)', (c) => c.primaryKey())
      .addColumn('value', 'bigint', (c) => c.notNull())
      // Epoch ms; null = never (totals). An expired counter reads as 0 and restarts on its next increment.
      .addColumn('expires_at', 'bigint')
      .addColumn('updated_at', 'bigint', (c) => c.notNull()),
  ).execute()
  await db.schema
    .createIndex('delivery_counters_updated')
    .on('delivery_counters')
    .column('updated_at')
    .execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('delivery_counters').ifExists().execute()
}
