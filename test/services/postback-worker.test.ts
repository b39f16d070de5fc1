import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, test } from 'node:test'
import { MockAgent } from 'undici'
import { parseDatabaseUrl } from '../../src/config/config.js'
import { DependencyUnavailable } from '../../src/domain/errors.js'
import { openDatabase, type SqlDatabase } from '../../src/infra/database/database.js'
import { migrateToLatest } from '../../src/infra/database/migrator.js'
import { createUndiciTransport } from '../../src/infra/http/postback-transport.js'
import { createRewardRepository } from '../../src/repositories/reward.repository.js'
import type { Outbox, PostbackTransport } from '../../src/services/ports/events.ports.js'
import { createPostbackWorker, RETRY_DELAYS_MS } from '../../src/services/postback-worker.service.js'
import { createManualScheduler } from '../helpers/manual-timers.js'
import { sqlBackends } from '../helpers/sql-backends.js'

const ORIGIN = 'http://publisher.test'
const T0 = Date.UTC(2026, 10, 25, 3)
const quiet = { info() {}, warn() {}, error() {} }

/** `transport`, and a promise that resolves when its first POST has started (a batch is in flight). */
function watched(transport: PostbackTransport) {
  let started: () => void = () => {}
  const posting = new Promise<void>((resolve) => (started = resolve))
  const post: PostbackTransport['post'] = (...args) => {
    started()
    return transport.post(...args)
  }
  return { transport: { post }, posting }
}

for (const backend of await sqlBackends()) {
  describe(`postback worker on ${backend.name}`, { skip: backend.skip }, () => {
    let database: SqlDatabase
    let rewards: ReturnType<typeof createRewardRepository>
    let agent: MockAgent
    let now = T0
    let device = 1
    before(async () => {
      database = openDatabase(parseDatabaseUrl(await backend.createDatabaseUrl(), 5))
      await migrateToLatest(database.db)
      rewards = createRewardRepository(database)
    })
    after(async () => {
      await database?.close()
      await backend.cleanup()
    })
    beforeEach(async () => {
      agent = new MockAgent()
      agent.disableNetConnect()
      // Earlier tests' rows are done with; start each test from an empty outbox.
      await database.db.deleteFrom('postback_outbox').execute()
      now = T0
    })

    /** Writes one reward with its postback, as the event service does. */
    async function enqueue(path = '/postback'): Promise<string> {
      const granted = await rewards.grant(
        {
          transaction_id: `tx${device}`,
          device_id: device++,
          unit_id: 1001,
          campaign_id: 7,
          action_type: 'u',
          period: 'h0',
          point: 5,
          base: undefined,
          user_id: `user-${device}`,
          limits: { hour: 0, baseHour: 0 },
          created_at: now,
          report_day: '2026-11-25',
        },
        (g) => ({
          url: `${ORIGIN}${path}`,
          headers: { 'x-test': 'yes' },
          body: `transaction_id=${g.transactionId}`,
        }),
      )
      assert.equal(typeof granted, 'object', String(granted))
      return (granted as { transactionId: string }).transactionId
    }
    /** A worker on the test's clock (`now`), or on a manual scheduler's clock for a test of its poll. */
    const worker = (
      transport: PostbackTransport = createUndiciTransport(agent),
      timeoutMs = 1_000,
      manual?: ReturnType<typeof createManualScheduler>,
      outbox: Outbox = rewards,
    ) =>
      createPostbackWorker({
        outbox,
        transport,
        clock: manual?.clock ?? (() => now),
        logger: quiet,
        timeoutMs,
        pollMs: 60_000,
        scheduler: (manual ?? createManualScheduler(T0)).scheduler,
      })
    const only = async () => {
      const [row] = await rewards.list(undefined, 10, 0)
      assert.ok(row)
      return row
    }

    test('a 200 delivers the form body with its headers, once', async () => {
      const id = await enqueue()
      let seen: { body: unknown; headers: unknown } | undefined
      agent
        .get(ORIGIN)
        .intercept({ path: '/postback', method: 'POST' })
        .reply(200, (opts) => {
          seen = { body: opts.body, headers: opts.headers }
          return 'ok'
        })
      assert.equal(await worker().runOnce(), 1)
      assert.equal(seen?.body, `transaction_id=${id}`)
      assert.ok(seen, 'the publisher was called')
      assert.equal((seen.headers as Record<string, string>)['x-test'], 'yes')
      const row = await only()
      assert.equal(row.status, 'delivered')
      assert.equal(row.attempts, 1)
      assert.equal(await worker().runOnce(), 0, 'nothing left to send')
    })

    test('409 means the publisher already has it: delivered', async () => {
      await enqueue()
      agent.get(ORIGIN).intercept({ path: '/postback', method: 'POST' }).reply(409, 'dup')
      await worker().runOnce()
      assert.equal((await only()).status, 'delivered')
    })

    test('a 500 is retried after 1 min, 10 min, 1 h, 3 h and 24 h, then marked failed', async () => {
      await enqueue()
      agent.get(ORIGIN).intercept({ path: '/postback', method: 'POST' }).reply(500, 'down').times(6)
      const w = worker()
      assert.equal(await w.runOnce(), 1)
      for (const delay of RETRY_DELAYS_MS) {
        const row = await only()
        assert.equal(row.status, 'pending')
        assert.equal(row.next_attempt_at, now + delay)
        assert.equal(row.last_status, 500)
        now += delay - 1
        assert.equal(await w.runOnce(), 0, 'not due a millisecond early')
        now += 1
        assert.equal(await w.runOnce(), 1)
      }
      const row = await only()
      assert.equal(row.status, 'failed')
      assert.equal(row.attempts, 6)
    })

    test('the backlog counts pending and failed postbacks and dates the oldest pending one', async () => {
      assert.deepEqual(await rewards.backlog(), { pending: 0, failed: 0, oldestPendingAt: null })
      await enqueue('/gone')
      const firstAt = now
      now += 5_000
      await enqueue('/fine')
      assert.deepEqual(await rewards.backlog(), { pending: 2, failed: 0, oldestPendingAt: firstAt })
      const pool = agent.get(ORIGIN)
      pool
        .intercept({ path: '/gone', method: 'POST' })
        .reply(500, 'down')
        .times(RETRY_DELAYS_MS.length + 1)
      pool.intercept({ path: '/fine', method: 'POST' }).reply(200, 'ok')
      const w = worker()
      assert.equal(await w.runOnce(), 2)
      for (const delay of RETRY_DELAYS_MS) {
        now += delay
        await w.runOnce()
      }
      assert.deepEqual(await rewards.backlog(), { pending: 0, failed: 1, oldestPendingAt: null })
      const newAt = now
      await enqueue('/new')
      now += 1_000
      await enqueue('/newer')
      assert.deepEqual(await rewards.backlog(), { pending: 2, failed: 1, oldestPendingAt: newAt })
    })

    test('a timeout is retried like a failure, and the next attempt can deliver', async () => {
      await enqueue()
      const pool = agent.get(ORIGIN)
      pool.intercept({ path: '/postback', method: 'POST' }).reply(200, 'late').delay(500)
      pool.intercept({ path: '/postback', method: 'POST' }).reply(204, '')
      const w = worker(createUndiciTransport(agent), 100)
      await w.runOnce()
      let row = await only()
      assert.equal(row.status, 'pending')
      assert.equal(row.last_status, null)
      assert.match(row.last_error ?? '', /timeout|abort/i)
      now += RETRY_DELAYS_MS[0]
      await w.runOnce()
      row = await only()
      assert.equal(row.status, 'delivered')
      assert.equal(row.attempts, 2)
    })

    test('a worker killed mid-delivery: after its lease another delivers the row once; the dead one changes nothing', async () => {
      await enqueue()
      let release: (status: number) => void = () => {}
      let posting: () => void = () => {}
      const posted = new Promise<void>((resolve) => (posting = resolve))
      const hanging: PostbackTransport = {
        post: () => {
          posting()
          return new Promise((resolve) => (release = resolve))
        },
      }
      const dead = worker(hanging, 1_000).runOnce()
      await posted // the dead worker holds the row's lease and is mid-delivery
      let deliveries = 0
      agent
        .get(ORIGIN)
        .intercept({ path: '/postback', method: 'POST' })
        .reply(200, () => {
          deliveries++
          return 'ok'
        })
        .persist()
      const restarted = worker()
      assert.equal(await restarted.runOnce(), 0, 'the row is leased to the dead worker')
      now += 1_000 + 30_000
      assert.equal(await restarted.runOnce(), 1)
      assert.equal(deliveries, 1)
      release(500) // the dead worker's request finally fails: its outcome must not undo the delivery
      await dead
      const row = await only()
      assert.equal(row.status, 'delivered')
      assert.equal(row.attempts, 1)
      assert.equal(await restarted.runOnce(), 0)
      assert.equal(deliveries, 1)
    })

    test('stop() stops claiming: the batch in flight is delivered and recorded, the rest stays due and unclaimed', async () => {
      for (let i = 0; i < 50; i++) await enqueue()
      let sent = 0
      agent
        .get(ORIGIN)
        .intercept({ path: '/postback', method: 'POST' })
        .reply(200, () => {
          sent++
          return 'ok'
        })
        .delay(100)
        .persist()
      const { transport, posting } = watched(createUndiciTransport(agent))
      const w = worker(transport)
      const run = w.kick()
      await posting // the first batch is claimed and on the wire
      await w.stop(5_000)
      await run
      assert.equal(sent, 20, 'one batch of 20, not the whole backlog')
      assert.equal((await rewards.list('delivered', 100, 0)).length, 20)
      const left = await rewards.list('pending', 100, 0)
      assert.equal(left.length, 30)
      assert.ok(left.every((r) => r.attempts === 0 && r.next_attempt_at <= now))
      assert.equal(await w.kick(), 0, 'a stopped worker claims nothing more')
      assert.equal(sent, 20)
      assert.equal(
        await worker().runOnce(),
        30,
        'the next worker takes the rest at once, without a lease to wait for',
      )
    })

    test('stop() with deliveries outlasting its wait aborts them and releases their rows, with no attempt counted', async () => {
      for (let i = 0; i < 3; i++) await enqueue()
      const { transport: hanging, posting } = watched({
        post: (_url, _headers, _body, _timeout, signal) =>
          new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason))),
      })
      const w = worker(hanging, 30_000)
      const run = w.kick()
      await posting
      const started = performance.now()
      await w.stop(100)
      await run
      assert.ok(performance.now() - started < 1_000, 'stop() waited about its 100 ms, not the 30 s timeout')
      const rows = await rewards.list(undefined, 10, 0)
      assert.equal(rows.length, 3)
      for (const row of rows) {
        assert.equal(row.status, 'pending')
        assert.equal(row.attempts, 0)
        assert.equal(row.last_error, null)
        assert.ok(row.next_attempt_at <= now, 'due now, not at the end of a lease')
      }
      const { db } = database
      const claimed = await db
        .selectFrom('postback_outbox')
        .select('id')
        .where('claim', 'is not', null)
        .execute()
      assert.deepEqual(claimed, [], 'no row is left under a claim')
    })

    test('started, the worker polls every pollMs: a failed delivery is sent again when its retry comes due', async () => {
      const manual = createManualScheduler(T0)
      await enqueue()
      const pool = agent.get(ORIGIN)
      pool.intercept({ path: '/postback', method: 'POST' }).reply(500, 'down')
      pool.intercept({ path: '/postback', method: 'POST' }).reply(200, 'ok')
      const w = worker(createUndiciTransport(agent), 1_000, manual)
      w.start()
      await manual.advance(59_999)
      assert.equal((await only()).attempts, 0, 'nothing before the first poll')
      await manual.advance(1)
      let row = await only()
      assert.deepEqual([row.status, row.attempts, row.next_attempt_at], ['pending', 1, T0 + 60_000 + 60_000])
      await manual.advance(60_000)
      row = await only()
      assert.deepEqual([row.status, row.attempts], ['delivered', 2])
      await w.stop()
      assert.equal(manual.pending(), 0, 'stop cancels the poll')
      assert.deepEqual(manual.errors, [])
    })

    const workerOn = (outbox: Outbox) => worker(createUndiciTransport(agent), 1_000, undefined, outbox)
    /** The reward repository as the outbox, its finishAttempt failing `failures` times (Infinity: always). */
    const failingRecords = (failures: number) => {
      let calls = 0
      const outbox: Outbox = {
        claimDue: (...args) => rewards.claimDue(...args),
        release: (...args) => rewards.release(...args),
        finishAttempt: async (...args) => {
          if (calls++ < failures) throw new DependencyUnavailable('database', 'timeout')
          return rewards.finishAttempt(...args)
        },
      }
      return { outbox, calls: () => calls }
    }
    const countingPublisher = () => {
      const sent = { n: 0 }
      agent
        .get(ORIGIN)
        .intercept({ path: '/postback', method: 'POST' })
        .reply(200, () => {
          sent.n++
          return 'ok'
        })
        .persist()
      return sent
    }

    test('the store failing to record an outcome: tried again, so the publisher gets the row once', async () => {
      await enqueue()
      const sent = countingPublisher()
      const failing = failingRecords(3)
      const w = workerOn(failing.outbox)
      assert.equal(await w.runOnce(), 1)
      assert.equal(failing.calls(), 4, 'three failed tries, then the one that recorded it')
      const row = await only()
      assert.deepEqual([row.status, row.attempts], ['delivered', 1])
      now += 3_600_000
      assert.equal(await worker().runOnce(), 0, 'nothing is due again, even after the lease')
      assert.equal(sent.n, 1)
    })

    test('stop() while the outcome of a sent row cannot be recorded: the row is not handed back to send at once', async () => {
      await enqueue()
      const sent = countingPublisher()
      const failing = failingRecords(Number.POSITIVE_INFINITY)
      const w = workerOn(failing.outbox)
      const run = w.kick()
      while (failing.calls() === 0) await new Promise((r) => setTimeout(r, 5))
      await w.stop(50)
      await run
      assert.equal(sent.n, 1)
      assert.equal(await worker().runOnce(), 0, 'still under its lease: not sent again now')
      const row = await only()
      assert.deepEqual([row.status, row.attempts], ['pending', 0])
      assert.ok(row.next_attempt_at > now, 'due when its lease ends')
    })

    test('two workers at once never send one row twice', async () => {
      for (let i = 0; i < 30; i++) await enqueue()
      const sent = new Map<string, number>()
      agent
        .get(ORIGIN)
        .intercept({ path: '/postback', method: 'POST' })
        .reply(200, (opts) => {
          sent.set(String(opts.body), (sent.get(String(opts.body)) ?? 0) + 1)
          return 'ok'
        })
        .persist()
      const [a, b] = await Promise.all([worker().runOnce(), worker().runOnce()])
      assert.equal(a + b, 30)
      assert.equal(sent.size, 30)
      assert.ok([...sent.values()].every((n) => n === 1))
      assert.equal((await rewards.list('delivered', 100, 0)).length, 30)
    })

    test('an admin retry makes a failed row due again', async () => {
      await enqueue()
      agent.get(ORIGIN).intercept({ path: '/postback', method: 'POST' }).reply(500, 'down').times(6)
      const w = worker()
      await w.runOnce()
      for (const delay of RETRY_DELAYS_MS) {
        now += delay
        await w.runOnce()
      }
      const failed = await only()
      assert.equal(failed.status, 'failed')
      assert.equal(await rewards.retry(failed.id, now), true)
      agent.get(ORIGIN).intercept({ path: '/postback', method: 'POST' }).reply(200, 'ok')
      assert.equal(await w.runOnce(), 1)
      assert.equal((await only()).status, 'delivered')
      assert.equal(await rewards.retry(999_999, now), false)
    })
  })
}
