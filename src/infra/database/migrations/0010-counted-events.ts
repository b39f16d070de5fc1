import type { Kysely } from 'kysely'
import { tableOptions } from './table-options.js'

/**
 * Events that count at most once (a landing's click per device, campaign and slot hour): a retried or
 * repeated event finds its row and counts nothing again. Written in the same transaction as the delivery
 * counters it moves; rows expire with the period they guard and are purged by housekeeping.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await tableOptions(db)(
    db.schema
      .createTable('counted_events')
      .addColumn('name', 'varchar(96)', (c) => c.primaryKey())
      .addColumn('expires_at', 'bigint', (c) => c.notNull()),
  ).execute()
  await db.schema.createIndex('counted_events_expires').on('counted_events').column('expires_at').execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('counted_events').ifExists().execute()
}
