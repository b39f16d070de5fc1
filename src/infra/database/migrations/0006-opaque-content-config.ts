import { type Kysely, MysqlAdapter, sql } from 'kysely'
import { tableOptions } from './table-options.js'

const CONFIG_COLUMNS = ['category', 'channel', 'campaign'] as const

/**
 * Content configs become the v1 SDK's opaque strings (docs/architecture.md §W10): a column nobody set reads
 * as '', not as the old JSON list '[]'. Installed package lists (§1, `POST /api/update_installed_apps/`) get
 * their table.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const mysql = db.getExecutor().adapter instanceof MysqlAdapter
  const finish = tableOptions(db)
  const trx = db as Kysely<Record<string, Record<string, string>>>
  for (const column of CONFIG_COLUMNS) {
    await trx.updateTable('device_content_configs').set(column, '').where(column, '=', '[]').execute()
  }

  await finish(
    db.schema
      .createTable('installed_apps')
      .addColumn('app_id', 'bigint', (c) => c.notNull())
      .addColumn('ifa', 'varchar(64)', (c) => c.notNull())
      // Up to 256 KiB once inflated: MySQL's text stops at 64 KiB.
      .addColumn('packages', mysql ? sql`mediumtext` : 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('installed_apps_pk', ['app_id', 'ifa']),
  ).execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('installed_apps').ifExists().execute()
  const trx = db as Kysely<Record<string, Record<string, string>>>
  for (const column of CONFIG_COLUMNS) {
    await trx.updateTable('device_content_configs').set(column, '[]').where(column, '=', '').execute()
  }
}
