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
 *
 * Grants asked for in the same turn of the event loop go together (issue #20): one grant alone is one
 * `allot_grant` CALL; several are one `allot_grant_batch` CALL (migration 0015), which calls `allot_grant` for
 * each in order, each in its own transaction with its own answer, so a grant's outcome is the one it would
 * have had alone, after the grants queued before it. Under load this saves a round trip (a socket write and a
 * read, waking a MariaDB thread, mysql2's work per command) per grant. A grant that the batch answers with a
 * deadlock or a lock wait timeout is retried alone; a batch that fails whole (the database unreachable or
 * slow) fails each of its grants, as a single CALL would: each either committed or not, and a retry of one
 * that committed is a duplicate.
 */
export function createMysqlGrant(prepare: (text: string) => PreparedQuery) {
  const call = prepare(`call allot_grant(${Array.from({ length: 24 }, () => '?').join(', ')})`)
  const callBatch = prepare('call allot_grant_batch(?)')
  let queued: Queued[] = []
  /** False once the server says allot_grant_batch does not exist (not migrated yet): one CALL per grant. */
  let batches = true

  const one = (q: Queued) => call(q.params).then((sets) => q.resolve(resultRows(sets)[0]), q.reject)
  const many = (group: Queued[]) =>
    callBatch([JSON.stringify(group.map((q) => q.params))]).then(
      (sets) => {
        const rows = resultRows(sets)
        if (rows.length !== group.length)
          throw new Error(`allot_grant_batch answered ${rows.length} results for ${group.length} grants`)
        group.forEach((q, i) => {
          const row = rows[i] as Row
          if (row.outcome === 'error') q.reject(batchError(Number(row.point)))
          else q.resolve(row)
        })
      },
      (err: unknown) => {
        if ((err as { errno?: number }).errno !== ER_SP_DOES_NOT_EXIST) {
          for (const q of group) q.reject(err)
          return
        }
        batches = false
        for (const q of group) one(q)
      },
    )
  const flush = () => {
    const group = queued
    queued = []
    if (group.length === 1 || !batches) {
      for (const q of group) one(q)
      return
    }
    for (let i = 0; i < group.length; i += MAX_BATCH) many(group.slice(i, i + MAX_BATCH))
  }
  const enqueue = (params: unknown[]) =>
    new Promise<Row | undefined>((resolve, reject) => {
      if (queued.length === 0) setImmediate(flush)
      queued.push({ params, resolve, reject })
    })

  return (
    entry: RewardGrant,
    postback: ((grant: RecordedGrant) => PostbackDraft) | undefined,
  ): Promise<GrantOutcome> => {
    const params = grantParams(entry, postback)
    return retryOnDeadlock(async () => outcomeOf(entry, await enqueue(params)))
  }
}

/** Grants per batch CALL at most (its JSON is about 1 KB per grant with a postback). */
const MAX_BATCH = 64
const ER_SP_DOES_NOT_EXIST = 1305
/** The MySQL error numbers a batch can answer for one grant that retryOnDeadlock retries, by their codes. */
const RETRIED: Record<number, string> = { 1213: 'ER_LOCK_DEADLOCK', 1205: 'ER_LOCK_WAIT_TIMEOUT' }

type Row = { outcome: string; point: number; base_point: number }
type Queued = {
  params: unknown[]
  resolve: (row: Row | undefined) => void
  reject: (err: unknown) => void
}

/** A grant the batch could not record: an error as mysql2 would have raised it for a CALL of its own. */
function batchError(errno: number): Error {
  const code = RETRIED[errno] ?? 'ER_GRANT_FAILED'
  return Object.assign(new Error(`allot_grant failed with MySQL error ${errno}`), { errno, code })
}

/** A CALL's answer: its result sets (arrays of rows), then the status of the CALL itself. */
function resultRows(sets: unknown): (Row | undefined)[] {
  return (sets as unknown[]).filter(Array.isArray).map((rows) => (rows as Row[])[0])
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
function outcomeOf(entry: RewardGrant, row: Row | undefined): GrantOutcome {
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
