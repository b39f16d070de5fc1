import type { Kysely, Transaction } from 'kysely'
import type { AttemptOutcome, Postback, PostbackStatus } from '../domain/postback.js'
import { CAMPAIGN_METRICS } from '../domain/report.js'
import type { GrantOutcome, PostbackDraft, RecordedGrant, RewardGrant } from '../domain/reward.js'
import type { SqlDatabase } from '../infra/database/database.js'
import type { Database } from '../infra/database/schema.js'
import { createMysqlGrant } from './mysql-grant.js'
import { addReportCounts, grantIncrements } from './report-counter.repository.js'
import { isUniqueViolation, num, retryOnDeadlock } from './sql-resource.repository.js'

type Dialect = 'sqlite' | 'mysql'

/** The reward ledger and the postback outbox, written together in one transaction. */
export function createRewardRepository({ db, dialect, prepare }: SqlDatabase) {
  const grantOnMysql = dialect === 'mysql' ? createMysqlGrant(prepare) : undefined
  return {
    /**
     * Records one grant (campaign part plus the base part when it is still due in its period) and its
     * postback atomically. 'duplicate' when the ledger already has this (device, campaign, action, period),
     * however many callers race; 'nothing' when neither part is left to pay; 'limited' past the user's hour.
     * MySQL: one round trip, a stored procedure (mysql-grant.ts); SQLite, in process: one statement at a time.
     */
    grant: (entry: RewardGrant, postback: ((grant: RecordedGrant) => PostbackDraft) | undefined) =>
      grantOnMysql ? grantOnMysql(entry, postback) : grantOnSqlite(db, entry, postback),
    /**
     * Claims up to `limit` due postbacks for `leaseMs`: no other worker gets them until the lease ends, so a
     * worker that dies mid-delivery hands its rows back by itself.
     */
    claimDue: (now: number, limit: number, leaseMs: number, claim: string) =>
      claimDue(db, dialect, now, limit, leaseMs, claim),
    /**
     * Records one attempt's outcome, only if the claim is still ours (a late, dead worker changes nothing);
     * a delivery or a final failure counts in the delivery report in the same transaction.
     */
    finishAttempt: (id: number, claim: string, outcome: AttemptOutcome, now: number) =>
      finishAttempt(db, dialect, id, claim, outcome, now),
    /** Hands back the rows still pending under `claim` (a worker stopping): due at `now`, for any worker. */
    release: (claim: string, now: number, keep: readonly number[] = []) => release(db, claim, now, keep),
    list: (status: PostbackStatus | undefined, limit: number, offset: number) =>
      list(db, status, limit, offset),
    /** Postbacks still to deliver, those given up on, and when the oldest pending one was written. */
    backlog: () => backlog(db),
    get: (id: number) => get(db, id),
    /** Makes a postback due now again (whatever its status); false if there is no such postback. */
    retry: (id: number, now: number) => retry(db, dialect, id, now),
  }
}

/** Rolls a grant back when, once the base part is settled, there is nothing to pay. */
class NothingToGrant extends Error {}
/** Rolls a grant back when the user reached the unit's hourly limit. */
class HourLimitReached extends Error {}

/** The user's grants this hour (unit, user, UTC hour): the row the hourly limits count on. */
type HourKey = { unit_id: number; user_id: string; hour: number }

/** The grant on SQLite: one transaction (SQLite has one writer at a time, in process: no round trips). */
async function grantOnSqlite(
  db: Kysely<Database>,
  entry: RewardGrant,
  postback: ((grant: RecordedGrant) => PostbackDraft) | undefined,
): Promise<GrantOutcome> {
  const hourKey = {
    unit_id: entry.unit_id,
    user_id: entry.user_id,
    hour: Math.floor(entry.created_at / 3_600_000),
  }
  try {
    return await db.transaction().execute(async (trx) => {
      if (!(await bumpHour(trx, hourKey, 'grants', entry.limits.hour))) throw new HourLimitReached()
      const basePoint = await claimBase(trx, entry, hourKey)
      const point = entry.point + basePoint
      if (point <= 0) throw new NothingToGrant()
      const recorded = { transactionId: entry.transaction_id, point, basePoint }
      const ledgerId = await insertLedgerRow(trx, entry, recorded)
      if (postback) await insertOutboxRow(trx, entry, ledgerId, postback(recorded))
      // The report counts the grant with the grant itself, last: hot counter rows stay locked only until
      // the commit that follows.
      await addReportCounts(
        trx,
        'sqlite',
        grantIncrements(entry, point, postback !== undefined),
        entry.created_at,
      )
      return recorded
    })
  } catch (err) {
    if (err instanceof NothingToGrant) return 'nothing'
    if (err instanceof HourLimitReached) return 'limited'
    if (isUniqueViolation(err)) return 'duplicate'
    throw err
  }
}

/**
 * Adds one to the user's grants (or base parts) this hour in one statement (the row is created at 1), reading
 * the count it reached back from that statement; true when it stays within `limit` (0 = none). Past the
 * limit the increment is taken back (grants: by the caller's rollback; base parts: here).
 */
async function bumpHour(
  trx: Transaction<Database>,
  key: HourKey,
  column: 'grants' | 'base_grants',
  limit: number,
): Promise<boolean> {
  const row = Object.assign({}, key, {
    grants: column === 'grants' ? 1 : 0,
    base_grants: column === 'base_grants' ? 1 : 0,
  })
  const result = await trx
    .insertInto('reward_user_hours')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['unit_id', 'user_id', 'hour']).doUpdateSet((eb) => ({ [column]: eb(column, '+', 1) })),
    )
    .returning(column)
    .executeTakeFirstOrThrow()
  const count = num((result as Record<string, unknown>)[column])
  if (limit <= 0 || count <= limit) return true
  if (column === 'base_grants')
    await trx
      .updateTable('reward_user_hours')
      .set((eb) => ({ base_grants: eb('base_grants', '-', 1) }))
      .where('unit_id', '=', key.unit_id)
      .where('user_id', '=', key.user_id)
      .where('hour', '=', key.hour)
      .execute()
  return false
}

/**
 * The base part this grant pays: the entry's when its period is still unclaimed for the device and unit and
 * the user is under its base parts this hour, else 0 (the period then stays unclaimed for another grant).
 */
async function claimBase(trx: Transaction<Database>, entry: RewardGrant, hourKey: HourKey): Promise<number> {
  if (!entry.base || entry.base.point <= 0) return 0
  const claimKey = { device_id: entry.device_id, unit_id: entry.unit_id, period: entry.base.period }
  const { numInsertedOrUpdatedRows } = await trx
    .insertInto('reward_base_claims')
    .values({ ...claimKey, transaction_id: entry.transaction_id })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirstOrThrow()
  if (Number(numInsertedOrUpdatedRows ?? 0) === 0) return 0
  if (await bumpHour(trx, hourKey, 'base_grants', entry.limits.baseHour)) return entry.base.point
  await trx
    .deleteFrom('reward_base_claims')
    .where('device_id', '=', claimKey.device_id)
    .where('unit_id', '=', claimKey.unit_id)
    .where('period', '=', claimKey.period)
    .execute()
  return 0
}

/** The ledger row of a grant; its unique key (device, campaign, action, period) makes a repeat a duplicate. */
async function insertLedgerRow(trx: Transaction<Database>, entry: RewardGrant, recorded: RecordedGrant) {
  const { insertId } = await trx
    .insertInto('reward_ledger')
    .values({
      transaction_id: entry.transaction_id,
      device_id: entry.device_id,
      unit_id: entry.unit_id,
      campaign_id: entry.campaign_id,
      source_campaign_id: entry.campaign_id,
      action_type: entry.action_type,
      period: entry.period,
      point: recorded.point,
      base_point: recorded.basePoint,
      created_at: entry.created_at,
    })
    .executeTakeFirstOrThrow()
  return Number(insertId)
}

/** The grant's postback, due at once. */
async function insertOutboxRow(
  trx: Transaction<Database>,
  entry: RewardGrant,
  ledgerId: number,
  draft: PostbackDraft,
) {
  await trx
    .insertInto('postback_outbox')
    .values({
      ledger_id: ledgerId,
      transaction_id: entry.transaction_id,
      unit_id: entry.unit_id,
      url: draft.url,
      headers: JSON.stringify(draft.headers),
      body: draft.body,
      status: 'pending',
      attempts: 0,
      next_attempt_at: entry.created_at,
      claim: null,
      last_status: null,
      last_error: null,
      created_at: entry.created_at,
      updated_at: entry.created_at,
      campaign_id: entry.campaign_id,
      report_day: entry.report_day,
    })
    .execute()
}

async function claimDue(
  db: Kysely<Database>,
  dialect: Dialect,
  now: number,
  limit: number,
  leaseMs: number,
  claim: string,
): Promise<Postback[]> {
  if (dialect === 'mysql') {
    // READ COMMITTED takes no gap locks; SKIP LOCKED passes over rows another worker is claiming.
    await retryOnDeadlock(() =>
      db
        .transaction()
        .setIsolationLevel('read committed')
        .execute(async (trx) => {
          const rows = await trx
            .selectFrom('postback_outbox')
            .select('id')
            .where('status', '=', 'pending')
            .where('next_attempt_at', '<=', now)
            .orderBy('next_attempt_at')
            .limit(limit)
            .forUpdate()
            .skipLocked()
            .execute()
          if (rows.length === 0) return
          await trx
            .updateTable('postback_outbox')
            .set({ claim, next_attempt_at: now + leaseMs, updated_at: now })
            .where(
              'id',
              'in',
              rows.map((r) => r.id),
            )
            .execute()
        }),
    )
  } else {
    // SQLite serialises writers, so one UPDATE picks and claims atomically.
    await db
      .updateTable('postback_outbox')
      .set({ claim, next_attempt_at: now + leaseMs, updated_at: now })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('postback_outbox')
          .select('id')
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .orderBy('next_attempt_at')
          .limit(limit),
      )
      .execute()
  }
  const rows = await db
    .selectFrom('postback_outbox')
    .selectAll()
    .where('claim', '=', claim)
    .where('status', '=', 'pending')
    .execute()
  return rows.map(postbackFromRow)
}

async function finishAttempt(
  db: Kysely<Database>,
  dialect: Dialect,
  id: number,
  claim: string,
  outcome: AttemptOutcome,
  now: number,
): Promise<boolean> {
  return retryOnDeadlock(() =>
    db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('postback_outbox')
        .set((eb) => ({
          status: outcome.status,
          attempts: eb('attempts', '+', 1),
          next_attempt_at: outcome.nextAttemptAt,
          claim: null,
          last_status: outcome.httpStatus,
          last_error: outcome.error?.slice(0, 500) ?? null,
          updated_at: now,
        }))
        .where('id', '=', id)
        .where('claim', '=', claim)
        .executeTakeFirst()
      const mine = Number(result.numUpdatedRows) === 1
      if (mine && outcome.status !== 'pending') await countOutcome(trx, dialect, id, outcome.status, 1, now)
      return mine
    }),
  )
}

async function release(
  db: Kysely<Database>,
  claim: string,
  now: number,
  keep: readonly number[],
): Promise<number> {
  let query = db
    .updateTable('postback_outbox')
    .set({ claim: null, next_attempt_at: now, updated_at: now })
    .where('claim', '=', claim)
    .where('status', '=', 'pending')
  if (keep.length > 0) query = query.where('id', 'not in', [...keep])
  const result = await query.executeTakeFirst()
  return Number(result.numUpdatedRows)
}

async function list(
  db: Kysely<Database>,
  status: PostbackStatus | undefined,
  limit: number,
  offset: number,
): Promise<Postback[]> {
  let query = db.selectFrom('postback_outbox').selectAll().orderBy('id', 'desc').limit(limit).offset(offset)
  if (status) query = query.where('status', '=', status)
  return (await query.execute()).map(postbackFromRow)
}

async function backlog(
  db: Kysely<Database>,
): Promise<{ pending: number; failed: number; oldestPendingAt: number | null }> {
  const rows = await db
    .selectFrom('postback_outbox')
    .select((eb) => ['status', eb.fn.countAll().as('n'), eb.fn.min('created_at').as('oldest')])
    .where('status', 'in', ['pending', 'failed'])
    .groupBy('status')
    .execute()
  const of = (status: string) => rows.find((r) => r.status === status)
  const pending = of('pending')
  return {
    pending: pending ? num(pending.n) : 0,
    failed: of('failed') ? num(of('failed')?.n) : 0,
    oldestPendingAt: pending?.oldest == null ? null : num(pending.oldest),
  }
}

async function get(db: Kysely<Database>, id: number): Promise<Postback | undefined> {
  const row = await db.selectFrom('postback_outbox').selectAll().where('id', '=', id).executeTakeFirst()
  return row && postbackFromRow(row)
}

async function retry(db: Kysely<Database>, dialect: Dialect, id: number, now: number): Promise<boolean> {
  return retryOnDeadlock(() =>
    db.transaction().execute(async (trx) => {
      let select = trx.selectFrom('postback_outbox').select('status').where('id', '=', id)
      if (dialect === 'mysql') select = select.forUpdate()
      const row = await select.executeTakeFirst()
      if (!row) return false
      await trx
        .updateTable('postback_outbox')
        .set({ status: 'pending', next_attempt_at: now, claim: null, updated_at: now })
        .where('id', '=', id)
        .execute()
      if (row.status !== 'pending')
        await countOutcome(trx, dialect, id, row.status as PostbackStatus, -1, now)
      return true
    }),
  )
}

/** Moves a postback's delivered / failed report counter by `by`, on its grant's campaign and day. */
async function countOutcome(
  trx: Transaction<Database>,
  dialect: Dialect,
  id: number,
  status: PostbackStatus,
  by: number,
  now: number,
): Promise<void> {
  const row = await trx
    .selectFrom('postback_outbox')
    .select(['unit_id', 'campaign_id', 'report_day'])
    .where('id', '=', id)
    .executeTakeFirst()
  // Rows written before migration 0009 carry no campaign: they are not in the reports.
  if (!row || row.campaign_id === null || row.report_day === null) return
  const metric =
    status === 'delivered' ? CAMPAIGN_METRICS.postbacksDelivered : CAMPAIGN_METRICS.postbacksFailed
  await addReportCounts(
    trx,
    dialect,
    [
      {
        kind: 'campaign',
        unitId: num(row.unit_id),
        campaignId: num(row.campaign_id),
        day: row.report_day,
        metric,
        by,
      },
    ],
    now,
  )
}

type OutboxRow = Awaited<ReturnType<ReturnType<typeof selectOutbox>['executeTakeFirstOrThrow']>>
const selectOutbox = (db: Kysely<Database>) => db.selectFrom('postback_outbox').selectAll()

function postbackFromRow(row: OutboxRow): Postback {
  return {
    id: num(row.id),
    transaction_id: row.transaction_id ?? String(row.ledger_id),
    unit_id: num(row.unit_id),
    url: row.url,
    headers: JSON.parse(row.headers),
    body: row.body,
    status: row.status as PostbackStatus,
    attempts: num(row.attempts),
    next_attempt_at: num(row.next_attempt_at),
    last_status: row.last_status === null ? null : num(row.last_status),
    last_error: row.last_error,
    created_at: num(row.created_at),
    updated_at: num(row.updated_at),
  }
}
