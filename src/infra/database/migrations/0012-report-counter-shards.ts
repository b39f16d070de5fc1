import { type Kysely, sql } from 'kysely'
import { tableOptions } from './table-options.js'

/**
 * Report counters split into shards (issue #20): a grant counts in its own transaction, and with one row
 * per (campaign, unit, day, metric) every grant of a popular campaign queued on that row's lock. Each
 * writer now adds to the shard of its own database connection, so two transactions in flight never share
 * a row; a report sums the shards. Existing counts move to shard 0. (A rebuild: SQLite cannot change a
 * primary key in place.)
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await rebuild(
    db,
    true,
    sql`select kind, day, unit_id, campaign_id, metric, 0, value, updated_at from report_counters`,
  )
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await rebuild(
    db,
    false,
    sql`select kind, day, unit_id, campaign_id, metric, sum(value), max(updated_at) from report_counters
      group by kind, day, unit_id, campaign_id, metric`,
  )
}

/** Replaces report_counters by a table with or without the shard column, filled by `rows`. */
async function rebuild(db: Kysely<unknown>, sharded: boolean, rows: ReturnType<typeof sql>): Promise<void> {
  const key = ['kind', 'day', 'unit_id', 'campaign_id', 'metric', ...(sharded ? ['shard'] : [])]
  let table = db.schema
    .createTable('report_counters_next')
    .addColumn('kind', 'varchar(8)', (c) => c.notNull())
    .addColumn('day', 'varchar(10)', (c) => c.notNull())
    .addColumn('unit_id', 'bigint', (c) => c.notNull())
    .addColumn('campaign_id', 'bigint', (c) => c.notNull())
    .addColumn('metric', 'varchar(32)', (c) => c.notNull())
  if (sharded) table = table.addColumn('shard', 'integer', (c) => c.notNull().defaultTo(0))
  table = table
    .addColumn('value', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint(`report_counters_pk${sharded ? '_sharded' : ''}`, key as never)
  await tableOptions(db)(table).execute()
  const columns = sql.raw([...key, 'value', 'updated_at'].join(', '))
  await sql`insert into report_counters_next (${columns}) ${rows}`.execute(db)
  await db.schema.dropTable('report_counters').execute()
  await db.schema.alterTable('report_counters_next').renameTo('report_counters').execute()
  await db.schema
    .createIndex('report_counters_campaign')
    .on('report_counters')
    .columns(['kind', 'campaign_id', 'day'])
    .execute()
}
