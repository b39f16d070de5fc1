import { type Kysely, sql } from 'kysely'
import { tableOptions } from './table-options.js'

// Migrations are frozen history: they name their columns here rather than importing the domain's lists.
const RANGE_COLUMNS = [
  'target_age_min',
  'target_age_max',
  'detarget_age_min',
  'detarget_age_max',
  'target_os_min',
  'target_os_max',
  'detarget_os_min',
  'detarget_os_max',
  'target_sdk_min',
  'target_sdk_max',
  'detarget_sdk_min',
  'detarget_sdk_max',
  'registered_days_min',
  'registered_days_max',
]

export async function up(db: Kysely<unknown>): Promise<void> {
  // MySQL/MariaDB tables are utf8mb4 whatever the server default (Korean region names).
  const finish = tableOptions(db)

  await finish(
    db.schema
      .createTable('units')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('app_id', 'bigint', (c) => c.notNull())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('unit_type', 'varchar(32)', (c) => c.notNull())
      .addColumn('platform', 'varchar(32)', (c) => c.notNull())
      .addColumn('country', 'varchar(8)', (c) => c.notNull())
      .addColumn('timezone', 'varchar(64)', (c) => c.notNull())
      .addColumn('is_active', 'integer', (c) => c.notNull())
      .addColumn('first_display_ratio', 'varchar(16)', (c) => c.notNull())
      .addColumn('page_display_ratio', 'varchar(16)', (c) => c.notNull())
      .addColumn('page_limit', 'integer', (c) => c.notNull())
      .addColumn('shuffle_option', 'integer', (c) => c.notNull())
      .addColumn('request_trigger', 'integer', (c) => c.notNull())
      .addColumn('request_period', 'integer', (c) => c.notNull())
      .addColumn('base_reward', 'integer', (c) => c.notNull())
      .addColumn('base_init_period', 'integer', (c) => c.notNull())
      .addColumn('postback_url', 'varchar(2048)')
      .addColumn('postback_hmac_key', 'varchar(255)')
      .addColumn('postback_headers', 'text', (c) => c.notNull())
      .addColumn('filtered_providers', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull()),
  ).execute()

  let campaigns = db.schema
    .createTable('campaigns')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('is_ad', 'integer', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('type', 'varchar(1)', (c) => c.notNull())
    .addColumn('owner_id', 'bigint')
    .addColumn('provider_id', 'bigint')
    .addColumn('channel_id', 'integer')
    .addColumn('categories', 'text', (c) => c.notNull())
    .addColumn('title', 'varchar(512)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('image', 'varchar(2048)', (c) => c.notNull())
    .addColumn('click_url', 'varchar(2048)', (c) => c.notNull())
    .addColumn('impression_urls', 'text', (c) => c.notNull())
    .addColumn('landing_type', 'integer', (c) => c.notNull())
    .addColumn('display_type', 'varchar(1)', (c) => c.notNull())
    .addColumn('display_weight', 'integer', (c) => c.notNull())
    .addColumn('first_display_priority', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('start_date', 'bigint', (c) => c.notNull())
    .addColumn('end_date', 'bigint', (c) => c.notNull())
    .addColumn('published_at', 'bigint')
    .addColumn('week_slot', 'text', (c) => c.notNull())
    .addColumn('ipu', 'integer')
    .addColumn('dipu', 'integer')
    .addColumn('tipu', 'integer')
    .addColumn('budget_type', 'varchar(16)')
    .addColumn('budget_daily', 'bigint')
    .addColumn('budget_total', 'bigint')
    .addColumn('budget_pacing', 'varchar(8)', (c) => c.notNull())
    .addColumn('unlock_reward', 'integer', (c) => c.notNull())
    .addColumn('landing_reward', 'integer', (c) => c.notNull())
    .addColumn('action_reward', 'integer', (c) => c.notNull())
    .addColumn('target_lists', 'text', (c) => c.notNull())
  for (const column of RANGE_COLUMNS) campaigns = campaigns.addColumn(column, 'integer')
  campaigns = campaigns
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
  await finish(campaigns).execute()
  await db.schema.createIndex('campaigns_servable').on('campaigns').columns(['status', 'end_date']).execute()

  await finish(
    db.schema
      .createTable('categories')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('icon_url', 'varchar(2048)', (c) => c.notNull())
      .addColumn('sort_order', 'integer', (c) => c.notNull()),
  ).execute()

  await finish(
    db.schema
      .createTable('channels')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('category', 'varchar(64)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('icon_url', 'varchar(2048)', (c) => c.notNull()),
  ).execute()

  await finish(
    db.schema
      .createTable('device_content_configs')
      .addColumn('device_id', 'bigint', (c) => c.primaryKey())
      .addColumn('category', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('campaign', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull()),
  ).execute()

  await finish(
    db.schema
      .createTable('catalog_state')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('version', 'bigint', (c) => c.notNull()),
  ).execute()
  await sql`insert into catalog_state (id, version) values (1, 0)`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'catalog_state',
    'device_content_configs',
    'channels',
    'categories',
    'campaigns',
    'units',
  ]) {
    await db.schema.dropTable(table).ifExists().execute()
  }
}
