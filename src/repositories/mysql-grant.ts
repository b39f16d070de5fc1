import { CompiledQuery, type Kysely } from 'kysely'
import type { GrantOutcome, PostbackDraft, RecordedGrant, RewardGrant } from '../domain/reward.js'
import type { Database } from '../infra/database/schema.js'
import { grantIncrements, reportCountsUpsert } from './report-counter.repository.js'
import { isUniqueViolation, retryOnDeadlock } from './sql-resource.repository.js'

/** mysql2's answer to one statement of a batch. */
type Ok = { affectedRows: number; insertId: number }

/**
 * The grant on MySQL/MariaDB in two round trips, whatever it carries (one statement per round trip took six to
 * eight): the first opens the transaction and takes the user's hour (and the base part's claim), the second,
 * once the amounts are known here, undoes a base part that is not due and writes the ledger row, the outbox
 * row and the report counters, then commits. Statements of one round trip are one batch (the pool allows
 * several statements per query); an error stops the batch where it is and the transaction is rolled back.
 * The rules are those of the SQLite grant (reward.repository.ts); the reward contract suites run on both.
 */
export function grantOnMysql(
  db: Kysely<Database>,
  entry: RewardGrant,
  postback: ((grant: RecordedGrant) => PostbackDraft) | undefined,
): Promise<GrantOutcome> {
  return retryOnDeadlock(() => db.connection().execute((conn) => inTransaction(conn, entry, postback)))
}

async function inTransaction(
  conn: Kysely<Database>,
  entry: RewardGrant,
  postback: ((grant: RecordedGrant) => PostbackDraft) | undefined,
): Promise<GrantOutcome> {
  const run = async (text: string, params: readonly unknown[]) =>
    (await conn.executeQuery(CompiledQuery.raw(text, [...params]))).rows as unknown as Ok[]
  const hour = [entry.unit_id, entry.user_id, Math.floor(entry.created_at / 3_600_000)]
  const withBase = entry.base !== undefined && entry.base.point > 0
  let open = true
  try {
    const taken = await run(withBase ? OPEN_WITH_BASE : OPEN, [
      ...hour,
      ...(withBase
        ? [entry.device_id, entry.unit_id, entry.base?.period, entry.transaction_id, ...hour]
        : []),
    ])
    if (!withinLimit(countOf(taken[1]), entry.limits.hour)) return await rollback('limited')
    const base = withBase ? baseOutcome(taken[2], taken[3], entry.limits.baseHour) : 'none'
    const basePoint = base === 'due' ? (entry.base?.point ?? 0) : 0
    const point = entry.point + basePoint
    if (point <= 0) return await rollback('nothing')
    const recorded = { transactionId: entry.transaction_id, point, basePoint }
    const write = writeStatements(entry, hour, base, recorded, postback?.(recorded))
    await run(write.text, write.params)
    open = false
    return recorded
  } catch (err) {
    if (open) await rollback(undefined).catch(() => {})
    if (isUniqueViolation(err)) return 'duplicate'
    throw err
  }

  async function rollback<T>(outcome: T): Promise<T> {
    open = false
    await run('rollback', [])
    return outcome
  }
}

/** The count an hour row reached: a new row says so by affecting one row; an existing one reads it back. */
const countOf = (ok: Ok | undefined) => (ok?.affectedRows === 1 ? 1 : Number(ok?.insertId ?? 1))
const withinLimit = (count: number, limit: number) => limit <= 0 || count <= limit

/**
 * The base part: 'due' when this grant claimed its period and the user is within its base parts this hour;
 * 'over' when it claimed the period past that limit (the claim and the count are taken back); 'taken' when
 * another grant had claimed the period (the count is taken back).
 */
type BaseOutcome = 'none' | 'due' | 'over' | 'taken'
function baseOutcome(claim: Ok | undefined, bump: Ok | undefined, limit: number): BaseOutcome {
  if (claim?.affectedRows !== 1) return 'taken'
  return withinLimit(Number(bump?.insertId ?? 0), limit) ? 'due' : 'over'
}

const HOUR_KEY = 'unit_id = ? and user_id = ? and hour = ?'
/** The user's grants this hour, plus one; a new row starts at 1. */
const OPEN =
  'start transaction; insert into reward_user_hours (unit_id, user_id, hour, grants, base_grants) ' +
  'values (?, ?, ?, 1, 0) on duplicate key update grants = last_insert_id(grants + 1)'
/** The same, and the base part's period claimed for the device and unit, and the user's base parts plus one. */
const OPEN_WITH_BASE =
  `${OPEN}; insert ignore into reward_base_claims (device_id, unit_id, period, transaction_id) ` +
  `values (?, ?, ?, ?); update reward_user_hours set base_grants = last_insert_id(base_grants + 1) where ${HOUR_KEY}`

const UNCOUNT_BASE = `update reward_user_hours set base_grants = base_grants - 1 where ${HOUR_KEY}`
const UNCLAIM_BASE = 'delete from reward_base_claims where device_id = ? and unit_id = ? and period = ?'
const LEDGER =
  'insert into reward_ledger (transaction_id, device_id, unit_id, campaign_id, source_campaign_id, ' +
  'action_type, period, point, base_point, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
/** The outbox row of the ledger row just written (its id is the connection's last insert id). */
const OUTBOX =
  'insert into postback_outbox (ledger_id, transaction_id, unit_id, url, headers, body, status, attempts, ' +
  'next_attempt_at, claim, last_status, last_error, created_at, updated_at, campaign_id, report_day) ' +
  "values (last_insert_id(), ?, ?, ?, ?, ?, 'pending', 0, ?, null, null, null, ?, ?, ?, ?)"

/** The second round trip: a base part not due taken back, the ledger and outbox rows, the report, COMMIT. */
function writeStatements(
  entry: RewardGrant,
  hour: readonly unknown[],
  base: BaseOutcome,
  recorded: RecordedGrant,
  draft: PostbackDraft | undefined,
): { text: string; params: unknown[] } {
  const texts: string[] = []
  const params: unknown[] = []
  const add = (text: string, values: readonly unknown[]) => {
    texts.push(text)
    params.push(...values)
  }
  if (base === 'over' || base === 'taken') add(UNCOUNT_BASE, hour)
  if (base === 'over') add(UNCLAIM_BASE, [entry.device_id, entry.unit_id, entry.base?.period])
  const at = entry.created_at
  add(LEDGER, [
    entry.transaction_id,
    entry.device_id,
    entry.unit_id,
    entry.campaign_id,
    entry.campaign_id,
    entry.action_type,
    entry.period,
    recorded.point,
    recorded.basePoint,
    at,
  ])
  if (draft) {
    const { transaction_id, unit_id, campaign_id, report_day } = entry
    const headers = JSON.stringify(draft.headers)
    add(OUTBOX, [
      transaction_id,
      unit_id,
      draft.url,
      headers,
      draft.body,
      at,
      at,
      at,
      campaign_id,
      report_day,
    ])
  }
  const counts = reportCountsUpsert(grantIncrements(entry, recorded.point, draft !== undefined), at)
  add(counts.text, counts.params)
  add('commit', [])
  return { text: texts.join('; '), params }
}
