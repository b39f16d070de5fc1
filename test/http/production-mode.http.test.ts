import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { createConnection } from 'mysql2/promise'
import { openRedis } from '../../src/infra/redis/redis.js'
import { createDynamoDeviceRepository } from '../../src/repositories/dynamodb-device.repository.js'
import { createRedisDeviceCache } from '../../src/repositories/redis-device-cache.repository.js'
import { startDynamo, TEST_AWS_CREDENTIALS, type TestDynamo } from '../helpers/dynamo.js'
import { eventually } from '../helpers/faults.js'
import { redisBackend } from '../helpers/redis.js'
import { redisDeployments } from '../helpers/redis-cluster.js'
import { demoPhone } from '../helpers/sdk.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { type AllocatedItemView, allocateDemo, startTestApp, type TestApp } from '../helpers/test-app.js'

// The AWS SDK's default credential chain reads these; the local DynamoDB-compatible server accepts any.
process.env.AWS_ACCESS_KEY_ID = TEST_AWS_CREDENTIALS.accessKeyId
process.env.AWS_SECRET_ACCESS_KEY = TEST_AWS_CREDENTIALS.secretAccessKey

const mariadb = (await sqlBackends()).find((b) => b.name === 'mariadb')
const redis = await redisBackend()
const skip = mariadb?.skip ?? redis.skip
const deployments = await redisDeployments()
const iso = (ms: number) => new Date(ms).toISOString()

for (const deployment of deployments)
  describe(`production mode: MariaDB + ${deployment.name} + DynamoDB, two instances`, {
    skip: skip ?? deployment.skip,
  }, () => {
    let dynamo: TestDynamo
    let databaseUrl = ''
    let a: TestApp
    let b: TestApp
    let stopRedis = async () => {}
    let shared = { url: '', cluster: false, prefix: '' }
    before(async () => {
      dynamo = await startDynamo()
      const url = await (mariadb ?? assert.fail('no MariaDB backend')).createDatabaseUrl()
      databaseUrl = url
      const redis = await deployment.start()
      stopRedis = redis.stop
      shared = redis
      const env = {
        REDIS_URL: redis.url,
        REDIS_CLUSTER: String(redis.cluster),
        REDIS_KEY_PREFIX: redis.prefix,
        PROFILE_STORE: 'dynamodb',
        DYNAMODB_TABLE: dynamo.table,
        DYNAMODB_ENDPOINT: dynamo.endpoint,
        // Polling alone would take ten minutes: anything seen sooner came through Redis.
        CATALOG_REFRESH_MS: '600000',
        COUNTER_REFRESH_MS: '600000',
      }
      a = await startTestApp(url, { seed: true, env })
      b = await startTestApp(url, { seed: false, env })
    })
    after(async () => {
      await Promise.all([a?.close(), b?.close()])
      await dynamo?.close()
      await stopRedis()
    })

    const allocate = allocateDemo

    test('readiness checks every dependency', async () => {
      const res = await a.app.inject({ method: 'GET', url: '/readyz' })
      assert.equal(res.statusCode, 200, res.body)
      assert.deepEqual(res.json().checks, { database: 'ok', redis: 'ok', dynamodb: 'ok', catalog: 'ok' })
    })

    test('an admin change on one instance reaches the other at once through Redis pub/sub', async () => {
      const created = await a.admin('POST', '/admin/campaigns', {
        name: 'pubsub-probe',
        type: 'I',
        is_ad: true,
        first_display_priority: 100,
        start_date: iso(Date.now() - 60_000),
        end_date: iso(Date.now() + 86_400_000),
        ipu: 1,
      })
      assert.equal(created.statusCode, 201, created.body)
      let seen = false
      // Up to about 5 s: a subscription that ioredis' cluster client lost while moving its subscriber is found
      // by the channel's probe within two seconds and resynced (infra/redis/pubsub.ts).
      for (let i = 0; i < 500 && !seen; i++) {
        seen = (await allocate(b, 1)).some((c) => c.name === 'pubsub-probe')
        if (!seen) await new Promise((r) => setTimeout(r, 10))
      }
      assert.ok(seen, 'instance b serves the new campaign well before its 10-minute poll')
    })

    test('an impression on one instance is in DynamoDB and Redis, and caps the campaign on the other at once', async () => {
      const device = 424242
      // A capped ad sits out an allocation whose device read missed ALLOCATION_DEADLINE_MS (a cold device
      // read from DynamoDB on a busy machine); the next allocation finds the device loaded.
      let probe: (AllocatedItemView & { impression_urls: string[] }) | undefined
      for (let i = 0; i < 20 && !probe; i++) {
        probe = (await allocate(b, device)).find((c) => c.name === 'pubsub-probe') as typeof probe
        if (!probe) await new Promise((r) => setTimeout(r, 10))
      }
      assert.ok(probe, 'allocated on b (and b cached the device)')
      const beacon = new URL(probe.impression_urls[0] ?? '')
      const res = await a.app.inject({ method: 'GET', url: `${beacon.pathname}${beacon.search}` })
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.headers['x-allot-counted'], 'counted')
      const localId = probe.id - 1_000_000_000

      const stored = await createDynamoDeviceRepository(
        dynamo.connection.transport,
        dynamo.table,
      ).listActivity(device, 0)
      assert.deepEqual(
        stored.map((i) => [i.type, i.campaign_id]),
        [['impression', localId]],
      )
      // Delivery counters (CTR, pacing) live in the SQL database, one row shared by both instances, written
      // in batches: the impression arrives with a's next flush.
      const sql = await createConnection(databaseUrl)
      try {
        const stored = async () => {
          const [rows] = await sql.query('select value from delivery_counters where name = ?', [
            `imp:${localId}`,
          ])
          return (rows as { value: number }[]).map((r) => Number(r.value))
        }
        assert.ok(await eventually(async () => (await stored()).length > 0, 10_000), 'flushed')
        assert.deepEqual(await stored(), [1])
      } finally {
        await sql.end()
      }
      let capped = false
      for (let i = 0; i < 500 && !capped; i++) {
        capped = !(await allocate(b, device)).some((c) => c.id === probe.id)
        if (!capped) await new Promise((r) => setTimeout(r, 10))
      }
      assert.ok(capped, 'b dropped its cached copy of the device and sees the impression (ipu 1)')
    })

    test('a tipu=1 cap holds across instances: 20 racing impressions on two instances count once', async () => {
      const created = await a.admin('POST', '/admin/campaigns', {
        name: 'once-ever',
        type: 'I',
        first_display_priority: 100,
        start_date: iso(Date.now() - 60_000),
        end_date: iso(Date.now() + 86_400_000),
        click_url: 'https://advertiser.test/once',
        tipu: 1,
      })
      assert.equal(created.statusCode, 201, created.body)
      const device = 515151
      let item: (AllocatedItemView & { impression_urls: string[] }) | undefined
      for (let i = 0; i < 500 && !item; i++) {
        item = (await allocate(b, device)).find((c) => c.name === 'once-ever') as typeof item
        if (!item) await new Promise((r) => setTimeout(r, 10))
      }
      assert.ok(item, 'allocated')
      await allocate(a, device)
      const beacon = new URL(item.impression_urls[0] ?? '')
      const path = `${beacon.pathname}${beacon.search}`
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).app.inject({ method: 'GET', url: path })),
      )
      const outcomes = answers.map((r) => r.headers['x-allot-counted'])
      assert.equal(outcomes.filter((o) => o === 'counted').length, 1, String(outcomes))
      assert.equal(outcomes.filter((o) => o === 'cap').length, 19, String(outcomes))
    })

    test("a stay reward is paid when a Redis failover lost the landing's click from the shared copy of the device", async () => {
      const device = 616161
      const phone = (t: TestApp) => demoPhone(t, device)
      const item = (await phone(b).pool()).find((c) => c.is_ad && c.landing_reward > 0)
      assert.ok(item, 'an ad with a landing reward')
      await phone(a).pool()
      // The SDK lands claiming nothing (the stay decides); the click reaches DynamoDB with a's next flush.
      const landed = await phone(a).land(item, { reward: 0, base_reward: 0 })
      assert.equal(landed.statusCode, 302)
      assert.equal(landed.headers['x-allot-reward'], 'none')
      const store = createDynamoDeviceRepository(dynamo.connection.transport, dynamo.table)
      const clicked = async () => (await store.listActivity(device, 0)).some((i) => i.type === 'click')
      assert.ok(await eventually(clicked, 10_000), 'the click is in the store of record')
      // The Redis master dies before its replica got the click's append: the promoted copy lacks it.
      const redis = await openRedis({ urls: shared.url.split(','), cluster: shared.cluster, timeoutMs: 1000 })
      try {
        await redis.client.rpop(`${shared.prefix}{d${device}}:act`)
        const copy = await createRedisDeviceCache(redis.client, shared.prefix, 60_000).read(device)
        assert.ok(copy.record, 'the device is still in Redis')
        assert.deepEqual(
          copy.record.activity.filter((i) => i.type === 'click'),
          [],
          "Redis' copy has no click",
        )
      } finally {
        await redis.close()
      }
      const paid = await phone(b).stayReward(item)
      assert.equal(paid.statusCode, 200, `the user is paid for the stay: ${paid.body}`)
      assert.equal((await phone(b).stayReward(item)).statusCode, 409, 'once')
    })
  })

describe('budgets survive losing the cache', { skip }, () => {
  test('a spent budget stays spent after Redis loses every key and a fresh instance starts', async () => {
    const url = await (mariadb ?? assert.fail('no MariaDB backend')).createDatabaseUrl()
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `${redis.prefix}b:` }
    const first = await startTestApp(url, { seed: true, env })
    let second: TestApp | undefined
    try {
      const created = await first.admin('POST', '/admin/campaigns', {
        name: 'five-only',
        type: 'I',
        first_display_priority: 100,
        start_date: iso(Date.now() - 60_000),
        end_date: iso(Date.now() + 86_400_000),
        click_url: 'https://advertiser.test/five',
        budget_type: 'impression',
        budget_total: 5,
      })
      assert.equal(created.statusCode, 201, created.body)
      const beacon = async (t: TestApp, device: number) => {
        const item = (await allocateDemo(t, device)).find((c) => c.name === 'five-only') as
          | (AllocatedItemView & { impression_urls: string[] })
          | undefined
        if (!item) return 'not allocated'
        const url = new URL(item.impression_urls[0] ?? '')
        return String(
          (await t.app.inject({ method: 'GET', url: `${url.pathname}${url.search}` })).headers[
            'x-allot-counted'
          ],
        )
      }
      const outcomes: string[] = []
      for (let d = 1; d <= 7; d++) outcomes.push(await beacon(first, 9000 + d))
      assert.deepEqual(outcomes.slice(0, 5), ['counted', 'counted', 'counted', 'counted', 'counted'])
      assert.ok(
        outcomes.slice(5).every((o) => o === 'budget' || o === 'not allocated'),
        String(outcomes),
      )

      const client = new Redis(redis.url)
      try {
        const keys = await client.keys(`${redis.prefix}b:*`)
        if (keys.length > 0) await client.del(...keys)
      } finally {
        client.disconnect()
      }
      second = await startTestApp(url, { seed: false, env })
      const after: string[] = []
      for (let d = 1; d <= 5; d++) after.push(await beacon(second, 9100 + d))
      assert.ok(
        after.every((o) => o === 'not allocated' || o === 'budget'),
        `re-spent: ${after}`,
      )
    } finally {
      await Promise.all([first.close(), second?.close()])
    }
  })
})

after(async () => {
  await redis.cleanup()
  await mariadb?.cleanup()
})
