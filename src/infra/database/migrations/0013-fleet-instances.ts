import type { Kysely } from 'kysely'
import { tableOptions } from './table-options.js'

/**
 * The fleet view without Redis (issue #21): each instance upserts its live figures (JSON) here every period;
 * readers ignore rows past `expires_at` (a stopped or stuck instance), and writers delete them now and then.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await tableOptions(db)(
    db.schema
      .createTable('fleet_instances')
      .addColumn('instance_id', 'varchar(128)', (c) => c.notNull().primaryKey())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('figures', 'text', (c) => c.notNull()),
  ).execute()
  await db.schema.createIndex('fleet_instances_expiry').on('fleet_instances').column('expires_at').execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('fleet_instances').ifExists().execute()
}
