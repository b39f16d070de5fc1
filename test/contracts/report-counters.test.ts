import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { parseDatabaseUrl } from '../../src/config/config.js'
import type { ReportIncrement } from '../../src/domain/report.js'
import { openDatabase, type SqlDatabase } from '../../src/infra/database/database.js'
import { migrateToLatest } from '../../src/infra/database/migrator.js'
import { createReportCounterRepository } from '../../src/repositories/report-counter.repository.js'
import { createRewardRepository } from '../../src/repositories/reward.repository.js'
import { rewardGrant } from '../helpers/reward-grant.js'
import { sqlBackends } from '../helpers/sql-backends.js'

const T0 = Date.UTC(2026, 10, 25, 3)

for (const backend of await sqlBackends()) {
  describe(`report counters on ${backend.name}`, { skip: backend.skip }, () => {
    let database: SqlDatabase
    let reports: ReturnType<typeof createReportCounterRepository>
    let rewards: ReturnType<typeof createRewardRepository>
    before(async () => {
      database = openDatabase(parseDatabaseUrl(await backend.createDatabaseUrl(), 8))
      await migrateToLatest(database.db)
      reports = createReportCounterRepository(database.db, database.dialect, () => T0)
      rewards = createRewardRepository(database)
    })
    after(async () => {
      await database?.close()
      await backend.cleanup()
    })

    const inc = (campaignId: number, metric: string, by: number, day = '2026-11-25'): ReportIncrement => ({
      kind: 'campaign',
      unitId: 1,
      campaignId,
      day,
      metric,
      by,
    })
    const values = async (campaignId: number) =>
      Object.fromEntries(
        (await reports.read({ kind: 'campaign', from: '2026-11-01', to: '2026-11-30', campaignId })).map(
          (r) => [`${r.day} ${r.metric}`, r.value],
        ),
      )

    test('concurrent batches from many writers add up exactly (new and existing counters alike)', async () => {
      await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          reports.add([
            inc(10, 'impressions', 1),
            inc(10, 'clicks', i % 2),
            inc(11, 'impressions', 2),
            inc(10, 'impressions', 1),
          ]),
        ),
      )
      assert.deepEqual(await values(10), { '2026-11-25 impressions': 48, '2026-11-25 clicks': 12 })
      assert.deepEqual(await values(11), { '2026-11-25 impressions': 48 })
      if (database.dialect === 'mysql') {
        // Each connection wrote its own shard: concurrent writers did not queue on one row.
        const shards = await database.db
          .selectFrom('report_counters')
          .select('shard')
          .distinct()
          .where('campaign_id', '=', 10)
          .execute()
        assert.ok(shards.length > 1, `${shards.length} shard(s) written by 8 connections`)
      }
    })

    test('reads one kind by day range (both ends included), unit and campaign', async () => {
      await reports.add([
        inc(20, 'allocations', 3, '2026-11-24'),
        inc(20, 'allocations', 4, '2026-11-26'),
        inc(20, 'allocations', 5, '2026-11-27'),
        { kind: 'unit', unitId: 7, campaignId: 0, day: '2026-11-26', metric: 'requests', by: 9 },
      ])
      const read = await reports.read({
        kind: 'campaign',
        from: '2026-11-24',
        to: '2026-11-26',
        campaignId: 20,
      })
      assert.deepEqual(read.map((r) => [r.day, r.value]).sort(), [
        ['2026-11-24', 3],
        ['2026-11-26', 4],
      ])
      assert.deepEqual(
        await reports.read({ kind: 'unit', from: '2026-11-26', to: '2026-11-26', unitId: 7 }),
        [{ unitId: 7, campaignId: 0, day: '2026-11-26', metric: 'requests', value: 9 }],
      )
      assert.deepEqual(
        await reports.read({ kind: 'unit', from: '2026-11-26', to: '2026-11-26', unitId: 8 }),
        [],
      )
    })

    const grant = (device: number, campaignId: number, withPostback: boolean) =>
      rewards.grant(
        rewardGrant({
          transaction_id: `tx-${device}-${campaignId}`,
          device_id: device,
          unit_id: 1,
          campaign_id: campaignId,
          created_at: T0,
        }),
        withPostback ? () => ({ url: 'http://publisher.test/', headers: {}, body: 'x' }) : undefined,
      )

    test('a grant counts its reward, points and postback with itself; a duplicate counts nothing', async () => {
      assert.equal(typeof (await grant(1, 30, true)), 'object')
      assert.equal(typeof (await grant(2, 30, false)), 'object')
      assert.equal(await grant(1, 30, true), 'duplicate')
      assert.deepEqual(await values(30), {
        '2026-11-25 rewards_u': 2,
        '2026-11-25 points_u': 14,
        '2026-11-25 postbacks': 1,
      })
    })

    test("a delivered or failed postback counts on its grant's day; a retry takes it back to pending", async () => {
      await grant(3, 40, true)
      await grant(4, 40, true)
      const due = await rewards.claimDue(T0, 10, 60_000, 'worker-1')
      // The two newest rows are this test's (the previous test left one pending as well).
      const [delivered, failed] = due
        .map((p) => p.id)
        .sort((a, b) => a - b)
        .slice(-2) as [number, number]
      const outcome = (status: 'delivered' | 'failed') => ({
        status,
        nextAttemptAt: T0,
        httpStatus: 200,
        error: null,
      })
      assert.equal(await rewards.finishAttempt(delivered, 'worker-1', outcome('delivered'), T0), true)
      assert.equal(await rewards.finishAttempt(failed, 'worker-1', outcome('failed'), T0), true)
      assert.equal(await rewards.finishAttempt(failed, 'someone-else', outcome('failed'), T0), false)
      assert.deepEqual(await values(40), {
        '2026-11-25 rewards_u': 2,
        '2026-11-25 points_u': 14,
        '2026-11-25 postbacks': 2,
        '2026-11-25 postbacks_delivered': 1,
        '2026-11-25 postbacks_failed': 1,
      })
      assert.equal(await rewards.retry(failed, T0), true)
      assert.equal((await values(40))['2026-11-25 postbacks_failed'], 0)
      assert.equal(await rewards.retry(987_654, T0), false)
    })
  })
}
