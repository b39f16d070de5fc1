import { CompiledQuery, type Kysely } from 'kysely'
import type { GrantOutcome, PostbackDraft, RecordedGrant, RewardGrant } from '../domain/reward.js'
import type { Database } from '../infra/database/schema.js'
import { conditionalCountsUpsert, grantIncrements, reportCountsUpsert } from './report-counter.repository.js'
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

/** Grants in one round trip at most (each about 2 KB of statements with its postback). */
const MAX_BATCH = 64

/** A grant waiting for its batch. */
type Queued = {
  entry: RewardGrant
  postback: ((grant: RecordedGrant) => PostbackDraft) | undefined
  resolve: (outcome: GrantOutcome) => void
  reject: (err: unknown) => void
}

/**
 * Grants on MySQL/MariaDB, several in one round trip. A grant with nothing but a campaign part (no base part
 * due to be decided, a positive point; every grant of a unit without a base reward) waits for the end of the
 * event-loop iteration and leaves with the others met there, up to 64: one batch of statements on one
 * connection, each grant its own transaction deciding its hourly limit in SQL (grantBatch). Other grants take
 * the two round trips of grantOnMysql. A batch that fails (a duplicate, a deadlock, a lost connection) stops
 * where it is; the grants of it whose ledger row is there are recorded, the others run again one at a time,
 * where a duplicate is found to be one: never paid twice (the ledger's keys), never lost.
 */
export function createMysqlGrants(db: Kysely<Database>) {
  let queue: Queued[] = []
  let scheduled = false
  const flush = () => {
    scheduled = false
    const batch = queue
    queue = []
    if (batch.length > 0) void sendBatch(db, batch)
  }
  return (
    entry: RewardGrant,
    postback: ((grant: RecordedGrant) => PostbackDraft) | undefined,
  ): Promise<GrantOutcome> => {
    if ((entry.base !== undefined && entry.base.point > 0) || entry.point <= 0) {
      return grantOnMysql(db, entry, postback)
    }
    return new Promise((resolve, reject) => {
      queue.push({ entry, postback, resolve, reject })
      if (queue.length >= MAX_BATCH) flush()
      else if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    })
  }
}

const recordedOf = (entry: RewardGrant): RecordedGrant => ({
  transactionId: entry.transaction_id,
  point: entry.point,
  basePoint: 0,
})

async function sendBatch(db: Kysely<Database>, batch: readonly Queued[]): Promise<void> {
  const statements = batch.map((q) => grantBatch(q.entry, q.postback?.(recordedOf(q.entry))))
  let results: Ok[]
  try {
    results = await db.connection().execute(async (conn) => {
      const text = statements.map((s) => s.text).join('; ')
      try {
        return (
          await conn.executeQuery(
            CompiledQuery.raw(
              text,
              statements.flatMap((s) => s.params),
            ),
          )
        ).rows as unknown as Ok[]
      } catch (err) {
        // The batch stopped inside the failing grant's transaction: never leave it open on a pooled connection.
        await conn.executeQuery(CompiledQuery.raw('rollback', [])).catch(() => {})
        throw err
      }
    })
  } catch (err) {
    await recover(db, batch, err)
    return
  }
  let at = 0
  batch.forEach((q, i) => {
    const ledger = results[at + LEDGER_AT]
    q.resolve(ledger?.affectedRows === 1 ? recordedOf(q.entry) : 'limited')
    at += statements[i]?.count ?? 0
  })
}

/** After a failed batch: the grants whose ledger row is there were recorded; the others run one at a time. */
async function recover(db: Kysely<Database>, batch: readonly Queued[], failure: unknown): Promise<void> {
  let recorded: Set<string>
  try {
    const rows = await db
      .selectFrom('reward_ledger')
      .select('transaction_id')
      .where(
        'transaction_id',
        'in',
        batch.map((q) => q.entry.transaction_id),
      )
      .execute()
    recorded = new Set(rows.map((r) => String(r.transaction_id)))
  } catch {
    for (const q of batch) q.reject(failure)
    return
  }
  for (const q of batch) {
    if (recorded.has(q.entry.transaction_id)) q.resolve(recordedOf(q.entry))
    else grantOnMysql(db, q.entry, q.postback).then(q.resolve, q.reject)
  }
}

/** Where the ledger's statement is in a grant's batch (after START TRANSACTION and the hour). */
const LEDGER_AT = 2
/**
 * The user's grants this hour plus one, only within the limit; LAST_INSERT_ID() says which: 1 for a new row,
 * the new count, or 0 past the limit (nothing changed). The statements that follow write only when it is not 0
 * (then it is the id of the row each wrote).
 */
const PLAIN_HOUR =
  'start transaction; insert into reward_user_hours (unit_id, user_id, hour, grants, base_grants) ' +
  'values (?, ?, ?, last_insert_id(1), 0) on duplicate key update grants = ' +
  'if(? <= 0 or grants < ?, last_insert_id(grants + 1), last_insert_id(0) + grants)'
const PLAIN_LEDGER =
  'insert into reward_ledger (transaction_id, device_id, unit_id, campaign_id, source_campaign_id, ' +
  'action_type, period, point, base_point, created_at) ' +
  'select ?, ?, ?, ?, ?, ?, ?, ?, 0, ? from dual where last_insert_id() > 0'
const PLAIN_OUTBOX =
  'insert into postback_outbox (ledger_id, transaction_id, unit_id, url, headers, body, status, attempts, ' +
  'next_attempt_at, claim, last_status, last_error, created_at, updated_at, campaign_id, report_day) ' +
  "select last_insert_id(), ?, ?, ?, ?, ?, 'pending', 0, ?, null, null, null, ?, ?, ?, ? from dual " +
  'where last_insert_id() > 0'

/** One plain grant's statements in a batch: its transaction, and how many statements it is. */
function grantBatch(
  entry: RewardGrant,
  draft: PostbackDraft | undefined,
): { text: string; params: unknown[]; count: number } {
  const { unit_id, device_id, campaign_id, transaction_id, report_day, created_at: at } = entry
  const texts = [PLAIN_HOUR, PLAIN_LEDGER]
  const params: unknown[] = [
    unit_id,
    entry.user_id,
    Math.floor(at / 3_600_000),
    entry.limits.hour,
    entry.limits.hour,
    transaction_id,
    device_id,
    unit_id,
    campaign_id,
    campaign_id,
    entry.action_type,
    entry.period,
    entry.point,
    at,
  ]
  if (draft) {
    texts.push(PLAIN_OUTBOX)
    params.push(transaction_id, unit_id, draft.url, JSON.stringify(draft.headers), draft.body, at, at, at)
    params.push(campaign_id, report_day)
  }
  const increments = grantIncrements(entry, entry.point, draft !== undefined)
  const counts = conditionalCountsUpsert(increments, at, 'last_insert_id() > 0')
  texts.push(counts.text, 'commit')
  params.push(...counts.params)
  // start transaction, the hour, the ledger, the outbox, the counters, commit
  return { text: texts.join('; '), params, count: texts.length + 1 }
}
