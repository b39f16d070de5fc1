import { type Kysely, MysqlAdapter, sql } from 'kysely'
import { tableOptions } from './table-options.js'

/**
 * The v1 SDK contract: unit and campaign fields the v1 answer carries, a non-guessable transaction id per
 * grant (one ledger row = one postback, base part included), and the base-reward claims that keep the
 * base part to once per device, unit and period.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const mysql = db.getExecutor().adapter instanceof MysqlAdapter
  const finish = tableOptions(db)
  const add = (table: string) => db.schema.alterTable(table)

  await add('units').addColumn('owner_id', 'bigint').execute()
  await add('units')
    .addColumn('hour_limit', 'integer', (c) => c.notNull().defaultTo(12))
    .execute()
  await add('units')
    .addColumn('base_hour_limit', 'integer', (c) => c.notNull().defaultTo(1))
    .execute()
  await add('units')
    .addColumn('ad_type', 'varchar(8)', (c) => c.notNull().defaultTo('all'))
    .execute()
  await add('units')
    .addColumn('content_type', 'varchar(8)', (c) => c.notNull().defaultTo('all'))
    .execute()
  await add('units')
    .addColumn('supports_cardview', 'integer', (c) => c.notNull().defaultTo(0))
    .execute()
  await add('units').addColumn('postback_aes_key', 'varchar(64)').execute()
  await add('units').addColumn('postback_aes_iv', 'varchar(64)').execute()

  await add('campaigns')
    .addColumn('clean_link', 'varchar(2048)', (c) => c.notNull().defaultTo(''))
    .execute()
  await add('campaigns')
    .addColumn('clean_mode', 'integer', (c) => c.notNull().defaultTo(0))
    .execute()
  // MySQL text columns take no default: existing rows get '{}' by the update below.
  await add('campaigns').addColumn('extra', 'text').execute()
  await sql`update campaigns set extra = '{}' where extra is null`.execute(db)
  await add('campaigns').addColumn('revenue_type', 'varchar(8)').execute()

  await add('reward_ledger').addColumn('transaction_id', 'varchar(32)').execute()
  await (mysql
    ? sql`update reward_ledger set transaction_id = cast(id as char)`
    : sql`update reward_ledger set transaction_id = cast(id as text)`
  ).execute(db)
  await add('postback_outbox').addColumn('transaction_id', 'varchar(32)').execute()
  await (mysql
    ? sql`update postback_outbox set transaction_id = cast(ledger_id as char)`
    : sql`update postback_outbox set transaction_id = cast(ledger_id as text)`
  ).execute(db)
  await db.schema
    .createIndex('reward_ledger_transaction')
    .on('reward_ledger')
    .column('transaction_id')
    .unique()
    .execute()

  await finish(
    db.schema
      .createTable('reward_base_claims')
      .addColumn('device_id', 'bigint', (c) => c.notNull())
      .addColumn('unit_id', 'integer', (c) => c.notNull())
      .addColumn('period', 'varchar(32)', (c) => c.notNull())
      .addColumn('transaction_id', 'varchar(32)', (c) => c.notNull())
      .addPrimaryKeyConstraint('reward_base_claims_pk', ['device_id', 'unit_id', 'period']),
  ).execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('reward_base_claims').ifExists().execute()
  await db.schema.dropIndex('reward_ledger_transaction').on('reward_ledger').execute()
  await db.schema.alterTable('reward_ledger').dropColumn('transaction_id').execute()
  await db.schema.alterTable('postback_outbox').dropColumn('transaction_id').execute()
  for (const column of ['clean_link', 'clean_mode', 'extra', 'revenue_type'])
    await db.schema.alterTable('campaigns').dropColumn(column).execute()
  for (const column of [
    'owner_id',
    'hour_limit',
    'base_hour_limit',
    'ad_type',
    'content_type',
    'supports_cardview',
    'postback_aes_key',
    'postback_aes_iv',
  ])
    await db.schema.alterTable('units').dropColumn(column).execute()
}
