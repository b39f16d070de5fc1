import type { Kysely } from 'kysely'
import { tableOptions } from './table-options.js'

/**
 * Grants per publisher user (unit_device_token) and UTC hour, so a unit's hour_limit / base_hour_limit bound
 * what one user can collect however many device ids it makes up.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await tableOptions(db)(
    db.schema
      .createTable('reward_user_hours')
      .addColumn('unit_id', 'integer', (c) => c.notNull())
      .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('hour', 'bigint', (c) => c.notNull())
      .addColumn('grants', 'integer', (c) => c.notNull())
      .addColumn('base_grants', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('reward_user_hours_pk', ['unit_id', 'user_id', 'hour']),
  ).execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('reward_user_hours').ifExists().execute()
}
