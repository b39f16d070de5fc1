import type { Kysely } from 'kysely'
import { tableOptions } from './table-options.js'

/**
 * Ad-ops insight. Delivery report counters get their own table rather than named rows in
 * delivery_counters: that table is mirrored into every process each second (report rows would flood the
 * mirror), its rows expire in days, and a report reads a range of days for a unit or a campaign, which
 * wants real columns and an index. Postback rows learn their campaign and report day, so a delivery or a
 * final failure counts on the day of its grant. device_seen keeps each device's last-seen attributes
 * (one row a device, written at most once a day per process) for reach estimates; (sample, device_id)
 * orders a uniform sample by hash.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await tableOptions(db)(
    db.schema
      .createTable('report_counters')
      .addColumn('kind', 'varchar(8)', (c) => c.notNull())
      .addColumn('day', 'varchar(10)', (c) => c.notNull())
      .addColumn('unit_id', 'bigint', (c) => c.notNull())
      .addColumn('campaign_id', 'bigint', (c) => c.notNull())
      .addColumn('metric', 'varchar(32)', (c) => c.notNull())
      .addColumn('value', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('report_counters_pk', ['kind', 'day', 'unit_id', 'campaign_id', 'metric']),
  ).execute()
  await db.schema
    .createIndex('report_counters_campaign')
    .on('report_counters')
    .columns(['kind', 'campaign_id', 'day'])
    .execute()

  await tableOptions(db)(
    db.schema
      .createTable('device_seen')
      .addColumn('device_id', 'bigint', (c) => c.primaryKey())
      .addColumn('sample', 'bigint', (c) => c.notNull())
      .addColumn('seen_at', 'bigint', (c) => c.notNull())
      .addColumn('unit_id', 'bigint', (c) => c.notNull())
      .addColumn('app_id', 'bigint', (c) => c.notNull())
      .addColumn('country', 'varchar(8)')
      .addColumn('gender', 'varchar(8)')
      .addColumn('language', 'varchar(16)')
      .addColumn('carrier', 'varchar(64)')
      .addColumn('region', 'varchar(128)')
      .addColumn('year_of_birth', 'integer')
      .addColumn('os', 'bigint')
      .addColumn('sdk', 'bigint')
      .addColumn('registered_at', 'bigint')
      .addColumn('custom_target_1', 'text')
      .addColumn('custom_target_2', 'text')
      .addColumn('custom_target_3', 'text'),
  ).execute()
  await db.schema
    .createIndex('device_seen_sample')
    .on('device_seen')
    .columns(['sample', 'device_id'])
    .execute()

  await db.schema.alterTable('postback_outbox').addColumn('campaign_id', 'bigint').execute()
  await db.schema.alterTable('postback_outbox').addColumn('report_day', 'varchar(10)').execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('postback_outbox').dropColumn('report_day').execute()
  await db.schema.alterTable('postback_outbox').dropColumn('campaign_id').execute()
  await db.schema.dropTable('device_seen').ifExists().execute()
  await db.schema.dropTable('report_counters').ifExists().execute()
}
