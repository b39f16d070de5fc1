import { CAMPAIGN_METRICS, rewardMetrics } from '../domain/report.js'
import type { GrantOutcome, PostbackDraft, RecordedGrant, RewardGrant } from '../domain/reward.js'
import type { PreparedQuery } from '../infra/database/database.js'
import { REPORT_SHARDS } from './report-counter.repository.js'
import { retryOnDeadlock } from './sql-resource.repository.js'

/**
 * The grant on MySQL/MariaDB in one round trip: the stored procedure `allot_grant` (migration
 * 0014-grant-procedure) takes the user's hour, claims the base part, writes the ledger row, the outbox row and
 * the report counters and commits, or rolls back and says why not. It holds the rules of the SQLite grant
 * (reward.repository.ts); the reward contract suites run on both.
 *
 * The postback's body carries the amounts, which only the procedure knows (the base part may turn out not to be
 * due), so both possible drafts go with the call and the procedure keeps the one that applies. A grant that
 * fails mid-way is rolled back inside the procedure: no transaction ever stays open on a pooled connection, and
 * a call that times out here either committed whole (a retry is then a duplicate) or not at all.
 *
 * Measured against the two-round-trip batches it replaces (issue #20, docs/benchmarks.md): about a third of
 * the client CPU per grant and less MariaDB CPU, as the server parses one prepared CALL instead of five
 * statements of text.
 */
export function createMysqlGrant(prepare: (text: string) => PreparedQuery) {
  const call = prepare(`call allot_grant(${Array.from({ length: 24 }, () => '?').join(', ')})`)
  return (
    entry: RewardGrant,
    postback: ((grant: RecordedGrant) => PostbackDraft) | undefined,
  ): Promise<GrantOutcome> => {
    const params = grantParams(entry, postback)
    return retryOnDeadlock(async () => outcomeOf(entry, await call(params)))
  }
}

function grantParams(
  entry: RewardGrant,
  postback: ((grant: RecordedGrant) => PostbackDraft) | undefined,
): unknown[] {
  const base = entry.base !== undefined && entry.base.point > 0 ? entry.base : undefined
  const transactionId = entry.transaction_id
  // The draft for each outcome that can be paid: the campaign part alone, and with the base part.
  const plain =
    postback && entry.point > 0 ? postback({ transactionId, point: entry.point, basePoint: 0 }) : undefined
  const withBase =
    postback && base
      ? postback({ transactionId, point: entry.point + base.point, basePoint: base.point })
      : undefined
  const metrics = rewardMetrics(entry.action_type)
  return [
    entry.unit_id,
    entry.user_id,
    Math.floor(entry.created_at / 3_600_000),
    entry.limits.hour,
    entry.device_id,
    base?.period ?? null,
    base?.point ?? 0,
    entry.limits.baseHour,
    transactionId,
    entry.campaign_id,
    entry.action_type,
    entry.period,
    entry.point,
    entry.created_at,
    entry.report_day,
    metrics.points,
    CAMPAIGN_METRICS.postbacks,
    metrics.count,
    REPORT_SHARDS,
    postback ? ((plain ?? withBase)?.url ?? null) : null,
    plain ? JSON.stringify(plain.headers) : null,
    plain?.body ?? null,
    withBase ? JSON.stringify(withBase.headers) : null,
    withBase?.body ?? null,
  ]
}

/** The procedure's one row: granted (with the amounts recorded), or why not. */
function outcomeOf(entry: RewardGrant, resultSets: unknown): GrantOutcome {
  const [rows] = resultSets as [{ outcome: string; point: number; base_point: number }[]]
  const row = rows?.[0]
  switch (row?.outcome) {
    case 'granted':
      return {
        transactionId: entry.transaction_id,
        point: Number(row.point),
        basePoint: Number(row.base_point),
      }
    case 'duplicate':
    case 'nothing':
    case 'limited':
      return row.outcome
    default:
      throw new Error(`allot_grant answered ${JSON.stringify(row)}`)
  }
}
