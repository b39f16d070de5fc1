import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  allocation,
  assertNotReady,
  assertUnavailable,
  eventually,
  prepareImpression,
  timed,
} from '../helpers/faults.js'
import { type OwnRedis, ownRedisSkip, startOwnRedis } from '../helpers/redis-server.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'

// Redis faults do not depend on the SQL backend: SQLite keeps the suite quick.
const [sqlite] = await sqlBackends()
const skip = ownRedisSkip()
const DEADLINE_MS = 50

/** A campaign id to PATCH through the admin API. */
async function someCampaign(t: TestApp): Promise<number> {
  const res = await t.admin('GET', '/admin/campaigns?limit=1')
  const body = res.json()
  return (body.items ?? body)[0].id
}

describe('Redis killed, then back', { skip }, () => {
  let redis: OwnRedis
  let t: TestApp
  before(async () => {
    redis = await startOwnRedis()
    const url = await (sqlite ?? assert.fail('no sqlite')).createDatabaseUrl()
    t = await startTestApp(url, { seed: true, env: { REDIS_URL: redis.url } })
  })
  after(async () => {
    await t?.close()
    await redis?.close()
    await sqlite?.cleanup()
  })

  test('without Redis: allocations in their deadline, admin writes at once, events 503 fast, /readyz names redis', async () => {
    const impression = await prepareImpression(t, 1)
    assert.equal((await impression()).statusCode, 200, 'with Redis up the event counts')
    const later = await prepareImpression(t, 2)
    await redis.kill()

    const alloc = await timed(() => allocation(t, 3))
    assert.equal(alloc.value.statusCode, 200, alloc.value.body)
    assert.ok(alloc.ms < DEADLINE_MS + 150, `allocation in ${Math.round(alloc.ms)} ms`)

    const id = await someCampaign(t)
    const patch = await timed(() =>
      t.admin('PATCH', `/admin/campaigns/${id}`, { name: 'renamed without redis' }),
    )
    assert.equal(patch.value.statusCode, 200, patch.value.body)
    assert.ok(patch.ms < 1_000, `admin PATCH in ${Math.round(patch.ms)} ms`)

    assertUnavailable(await timed(later), 1_000)
    await assertNotReady(t, 'redis', /^unreachable$/)

    await redis.start()
    assert.ok(await eventually(async () => (await later()).statusCode === 200, 10_000), 'events count again')
    assert.equal((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  })
})

describe('Redis stalled (the network path stops answering), then resumed', { skip }, () => {
  let redis: OwnRedis
  let proxy: TcpProxy
  let t: TestApp
  before(async () => {
    redis = await startOwnRedis()
    proxy = await startTcpProxy(redis.port)
    const url = await (sqlite ?? assert.fail('no sqlite')).createDatabaseUrl()
    t = await startTestApp(url, { seed: true, env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } })
  })
  after(async () => {
    await t?.close()
    await proxy?.close()
    await redis?.close()
    await sqlite?.cleanup()
  })

  test('while stalled: events 503 within the command timeout, allocations and admin writes unaffected', async () => {
    const impression = await prepareImpression(t, 11)
    proxy.stall()

    const alloc = await timed(() => allocation(t, 12))
    assert.equal(alloc.value.statusCode, 200, alloc.value.body)
    assert.ok(alloc.ms < DEADLINE_MS + 150, `allocation in ${Math.round(alloc.ms)} ms`)

    const id = await someCampaign(t)
    const patch = await timed(() =>
      t.admin('PATCH', `/admin/campaigns/${id}`, { name: 'renamed while stalled' }),
    )
    assert.equal(patch.value.statusCode, 200, patch.value.body)
    assert.ok(patch.ms < 1_000, `admin PATCH in ${Math.round(patch.ms)} ms`)

    assertUnavailable(await timed(impression), 1_000)
    // Stalled commands time out; once the silent connection is dropped, Redis is unreachable until it
    // answers again.
    await assertNotReady(t, 'redis', /^(timeout|unreachable)$/)

    proxy.resume()
    assert.ok(
      await eventually(async () => (await impression()).statusCode === 200, 10_000),
      'events count again',
    )
  })
})
