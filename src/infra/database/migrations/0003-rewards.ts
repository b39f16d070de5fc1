import { type Kysely, MysqlAdapter } from 'kysely'
import { tableOptions } from './table-options.js'

/** The reward ledger (exactly once per device, campaign, action and period) and the postback outbox. */
export async function up(db: Kysely<unknown>): Promise<void> {
  const mysql = db.getExecutor().adapter instanceof MysqlAdapter
  const finish = tableOptions(db)
  // SQLite only auto-increments an INTEGER primary key (which is 64-bit there anyway).
  const idType = mysql ? 'bigint' : 'integer'

  await finish(
    db.schema
      .createTable('reward_ledger')
      .addColumn('id', idType, (c) => c.primaryKey().autoIncrement())
      .addColumn('device_id', 'bigint', (c) => c.notNull())
      .addColumn('unit_id', 'integer', (c) => c.notNull())
      // 0 for the unit's base reward, which is per device and period, whichever campaign unlocked.
      .addColumn('campaign_id', 'integer', (c) => c.notNull())
      .addColumn('source_campaign_id', 'integer', (c) => c.notNull())
      .addColumn('action_type', 'varchar(4)', (c) => c.notNull())
      .addColumn('period', 'varchar(32)', (c) => c.notNull())
      .addColumn('point', 'integer', (c) => c.notNull())
      .addColumn('base_point', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('reward_ledger_once', ['device_id', 'campaign_id', 'action_type', 'period']),
  ).execute()

  await finish(
    db.schema
      .createTable('postback_outbox')
      .addColumn('id', idType, (c) => c.primaryKey().autoIncrement())
      .addColumn('ledger_id', 'bigint', (c) => c.notNull().unique())
      .addColumn('unit_id', 'integer', (c) => c.notNull())
      .addColumn('url', 'varchar(2048)', (c) => c.notNull())
      .addColumn('headers', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('claim', 'varchar(64)')
      .addColumn('last_status', 'integer')
      .addColumn('last_error', 'varchar(512)')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull()),
  ).execute()
  await db.schema
    .createIndex('postback_outbox_due')
    .on('postback_outbox')
    .columns(['status', 'next_attempt_at'])
    .execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['postback_outbox', 'reward_ledger'])
    await db.schema.dropTable(table).ifExists().execute()
}
