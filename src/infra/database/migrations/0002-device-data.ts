import type { Kysely } from 'kysely'
import { tableOptions } from './table-options.js'

/** Profiles, registrations and activity for the embedded default (production keeps these in DynamoDB). */
export async function up(db: Kysely<unknown>): Promise<void> {
  const finish = tableOptions(db)

  await finish(
    db.schema
      .createTable('device_profiles')
      .addColumn('device_id', 'bigint', (c) => c.primaryKey())
      .addColumn('category_scores', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull()),
  ).execute()

  await finish(
    db.schema
      .createTable('device_registrations')
      .addColumn('device_id', 'bigint', (c) => c.notNull())
      .addColumn('unit_id', 'integer', (c) => c.notNull())
      .addColumn('registered_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('device_registrations_pk', ['device_id', 'unit_id']),
  ).execute()

  await finish(
    db.schema
      .createTable('device_activity')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('device_id', 'bigint', (c) => c.notNull())
      .addColumn('campaign_id', 'integer', (c) => c.notNull())
      .addColumn('type', 'varchar(16)', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull()),
  ).execute()
  await db.schema
    .createIndex('device_activity_device_at')
    .on('device_activity')
    .columns(['device_id', 'at'])
    .execute()
  await db.schema.createIndex('device_activity_expires').on('device_activity').column('expires_at').execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['device_activity', 'device_registrations', 'device_profiles']) {
    await db.schema.dropTable(table).ifExists().execute()
  }
}
