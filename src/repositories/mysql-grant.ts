import DataLoader from 'dataloader'
import { DependencyUnavailable } from '../domain/errors.js'
import { CAMPAIGN_METRICS, rewardMetrics } from '../domain/report.js'
import type { GrantOutcome, PostbackDraft, RecordedGrant, RewardGrant } from '../domain/reward.js'
import type { PreparedQuery } from '../infra/database/database.js'
import { GRANT_ARGUMENTS, GRANT_BATCH_SLOTS } from '../infra/database/migrations/0015-grant-batch.js'
import { asError, PER_LOOP_ITERATION } from './loop-batch.js'
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
 * Grants asked for in one turn of the event loop leave together: up to GRANT_BATCH_SLOTS in one
 * `CALL allot_grant_batch(…)` (migration 0015), which runs `allot_grant` for each in order, each in its own
 * transaction with its own answer. A grant of the batch that failed inside it is retried alone, and so is each
 * grant of a CALL refused as a whole (one grant's arguments out of range); a batch that met a timeout or a lost
 * connection fails each of its grants as a lone call would. A retry never pays twice: the ledger's keys make a
 * grant that did commit a duplicate.
 *
 * Measured against the two-round-trip batches it replaces (issue #20, docs/benchmarks.md): about a third of
 * the client CPU per grant and less MariaDB CPU, as the server parses one prepared CALL instead of five
 * statements of text.
 */
export function createMysqlGrant(prepare: (text: string) => PreparedQuery) {
  const one = prepare(`call allot_grant(${placeholders(GRANT_ARGUMENTS)})`)
  const batch = prepare(`call allot_grant_batch(${placeholders(GRANT_ARGUMENTS * GRANT_BATCH_SLOTS)})`)
  const alone = (call: Call) => retryOnDeadlock(async () => outcomeOf(call.entry, await one(call.params)))
  const grants = new DataLoader<Call, GrantOutcome>((calls) => grantTogether(calls, batch, alone), {
    ...PER_LOOP_ITERATION,
    maxBatchSize: GRANT_BATCH_SLOTS,
  })
  return (
    entry: RewardGrant,
    postback: ((grant: RecordedGrant) => PostbackDraft) | undefined,
  ): Promise<GrantOutcome> => grants.load({ entry, params: grantParams(entry, postback) })
}

/** One grant: its entry and the procedure's arguments for it. */
type Call = { entry: RewardGrant; params: unknown[] }

const placeholders = (count: number) => Array.from({ length: count }, () => '?').join(', ')
const EMPTY_SLOT: unknown[] = Array.from({ length: GRANT_ARGUMENTS }, () => null)

/** One CALL for the calls of one turn (a lone call as before); each answer its grant's, or its error. */
async function grantTogether(
  calls: readonly Call[],
  batch: PreparedQuery,
  alone: (call: Call) => Promise<GrantOutcome>,
): Promise<(GrantOutcome | Error)[]> {
  if (calls.length === 1) return [await alone(calls[0] as Call).catch(asError)]
  const params = calls.flatMap((c) => c.params)
  for (let slot = calls.length; slot < GRANT_BATCH_SLOTS; slot++) params.push(...EMPTY_SLOT)
  let sets: unknown
  try {
    sets = await batch(params)
  } catch (err) {
    // The database unreachable, slow or overloaded: each grant fails as a lone call would (the phone sends it
    // again; a grant that did commit is then a duplicate). Any other error comes from the CALL itself, before
    // its slots ran (one grant's arguments refused): each grant alone, so only that one fails.
    if (err instanceof DependencyUnavailable) return calls.map(() => err)
    return Promise.all(calls.map((call) => alone(call).catch(asError)))
  }
  return Promise.all(
    calls.map(async (call, i) => {
      const rows = (sets as unknown[])[i] as { outcome: string }[] | undefined
      // Failed inside the batch (rolled back there): this grant alone, as a lone call would be retried.
      if (rows?.[0]?.outcome === 'error') return alone(call).catch(asError)
      try {
        return outcomeOf(call.entry, [rows])
      } catch (err) {
        return asError(err)
      }
    }),
  )
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
