import { CompiledQuery, type Kysely, sql, type Transaction } from 'kysely'
import {
  CAMPAIGN_METRICS,
  type ReportCounterQuery,
  type ReportCounterRow,
  type ReportIncrement,
  rewardMetrics,
} from '../domain/report.js'
import type { RewardGrant } from '../domain/reward.js'
import type { Database } from '../infra/database/schema.js'
import { num, retryOnDeadlock } from './sql-resource.repository.js'

/** Rows per statement: well under both dialects' placeholder limits (7 values a row). */
const CHUNK = 200

/**
 * MySQL: each connection adds to its own shard of a counter (connection ids are consecutive, so the
 * connections open at one time get distinct shards), and two transactions never wait on one counter row.
 */
export const REPORT_SHARDS = 1024

/**
 * Adds increments to the report counters with atomic upserts (one statement per chunk; a new counter
 * starts at its increment), in key order so concurrent writers lock rows in the same order. Runs inside
 * the caller's transaction when given one (a ledger grant counts with the grant itself).
 */
export async function addReportCounts(
  db: Kysely<Database> | Transaction<Database>,
  dialect: 'sqlite' | 'mysql',
  increments: readonly ReportIncrement[],
  now: number,
): Promise<void> {
  const all = merged(increments)
  for (let at = 0; at < all.length; at += CHUNK) {
    const chunk = all.slice(at, at + CHUNK)
    if (dialect === 'mysql') {
      const upsert = reportCountsUpsert(chunk, now)
      await db.executeQuery(CompiledQuery.raw(upsert.text, upsert.params))
      continue
    }
    // SQLite has one writer at a time: shard 0.
    const rows = chunk.map((i) => ({
      kind: i.kind,
      day: i.day,
      unit_id: i.unitId,
      campaign_id: i.campaignId,
      metric: i.metric,
      shard: 0,
      value: i.by,
      updated_at: now,
    }))
    await db
      .insertInto('report_counters')
      .values(rows)
      .onConflict((oc) =>
        oc.columns(['kind', 'day', 'unit_id', 'campaign_id', 'metric', 'shard']).doUpdateSet({
          value: sql`report_counters.value + excluded.value`,
          updated_at: sql`excluded.updated_at`,
        }),
      )
      .execute()
  }
}

/**
 * MySQL's upsert of report counters as text and parameters: the increments merged and in key order, each row
 * in the writer's connection's shard.
 */
function reportCountsUpsert(
  increments: readonly ReportIncrement[],
  now: number,
): { text: string; params: unknown[] } {
  const rows = merged(increments)
  const params = rows.flatMap((i) => [i.kind, i.day, i.unitId, i.campaignId, i.metric, i.by, now])
  const values = rows.map(() => `(?, ?, ?, ?, ?, connection_id() % ${REPORT_SHARDS}, ?, ?)`).join(', ')
  // VALUES() is MariaDB's spelling (MySQL 8 still takes it, with a deprecation note).
  const text =
    `insert into report_counters (kind, day, unit_id, campaign_id, metric, shard, value, updated_at) values ${values} ` +
    'on duplicate key update value = value + values(value), updated_at = values(updated_at)'
  return { text, params }
}

/** A grant in the delivery report: one grant and its points by action type, and the postback written. */
export function grantIncrements(entry: RewardGrant, point: number, withPostback: boolean): ReportIncrement[] {
  const report = (metric: string, by: number): ReportIncrement => ({
    kind: 'campaign',
    unitId: entry.unit_id,
    campaignId: entry.campaign_id,
    day: entry.report_day,
    metric,
    by,
  })
  const metrics = rewardMetrics(entry.action_type)
  return [
    report(metrics.count, 1),
    report(metrics.points, point),
    ...(withPostback ? [report(CAMPAIGN_METRICS.postbacks, 1)] : []),
  ]
}

/** Sums increments of one counter and sorts by key; zero sums are dropped. */
function merged(increments: readonly ReportIncrement[]): ReportIncrement[] {
  const byKey = new Map<string, ReportIncrement>()
  for (const i of increments) {
    const key = `${i.kind}|${i.day}|${String(i.unitId).padStart(16, '0')}|${String(i.campaignId).padStart(16, '0')}|${i.metric}`
    const known = byKey.get(key)
    if (known) known.by += i.by
    else byKey.set(key, { ...i })
  }
  return [...byKey.entries()]
    .filter(([, i]) => i.by !== 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, i]) => i)
}

/** Delivery report counters in the SQL database (every mode): durable, incremented, read by range. */
export function createReportCounterRepository(
  db: Kysely<Database>,
  dialect: 'sqlite' | 'mysql',
  clock: () => number,
) {
  return {
    /** Adds increments in their own statements (InnoDB may pick a deadlock victim among flushes: retried). */
    add: (increments: readonly ReportIncrement[]) =>
      retryOnDeadlock(() =>
        db.transaction().execute((trx) => addReportCounts(trx, dialect, increments, clock())),
      ),

    async read(q: ReportCounterQuery): Promise<ReportCounterRow[]> {
      let query = db
        .selectFrom('report_counters')
        .select((eb) => ['unit_id', 'campaign_id', 'day', 'metric', eb.fn.sum<number>('value').as('value')])
        .where('kind', '=', q.kind)
        .where('day', '>=', q.from)
        .where('day', '<=', q.to)
        .groupBy(['unit_id', 'campaign_id', 'day', 'metric'])
      if (q.unitId !== undefined) query = query.where('unit_id', '=', q.unitId)
      if (q.campaignId !== undefined) query = query.where('campaign_id', '=', q.campaignId)
      const rows = await query.execute()
      return rows.map((r) => ({
        unitId: num(r.unit_id),
        campaignId: num(r.campaign_id),
        day: r.day,
        metric: r.metric,
        value: num(r.value),
      }))
    },
  }
}
