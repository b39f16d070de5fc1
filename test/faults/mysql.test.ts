import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  allocation,
  assertNotReady,
  assertUnavailable,
  eventually,
  prepareImpression,
  prepareUnlock,
  timed,
} from '../helpers/faults.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'

const mariadb = (await sqlBackends()).find((b) => b.name === 'mariadb')
// DB_TIMEOUT_MS keeps its default (1 s): SQL-backed answers come within it plus a little.
const SQL_LIMIT_MS = 1_500

describe('MySQL stalled (the network path stops answering), then resumed', { skip: mariadb?.skip }, () => {
  let proxy: TcpProxy
  let t: TestApp
  before(async () => {
    const url = new URL(await (mariadb ?? assert.fail('no MariaDB backend')).createDatabaseUrl())
    proxy = await startTcpProxy(Number(url.port))
    url.port = String(proxy.port)
    t = await startTestApp(url.toString(), { seed: true, env: { DB_POOL_SIZE: '4', DB_QUEUE_LIMIT: '20' } })
  })
  after(async () => {
    await t?.close()
    await proxy?.close()
    await mariadb?.cleanup()
  })

  test('while stalled: allocations in their deadline; SQL-backed calls 503 within the time limit; /readyz names the database', async () => {
    const impression = await prepareImpression(t, 1)
    const unlock = await prepareUnlock(t, 3)
    const campaigns = (await t.admin('GET', '/admin/campaigns?limit=1')).json()
    const id = (campaigns.items ?? campaigns)[0].id
    proxy.stall()

    const alloc = await timed(() => allocation(t, 2))
    assert.equal(alloc.value.statusCode, 200, alloc.value.body)
    assert.ok(alloc.ms < 200, `allocation in ${Math.round(alloc.ms)} ms`)

    // A beacon may count without SQL (its counters and activity are written in batches, its budget spent
    // from a lease this process holds), or answer 503 when it needs the database: either way in time.
    const beacon = await timed(impression)
    if (beacon.value.statusCode === 200) assert.equal(beacon.value.headers['x-allot-counted'], 'counted')
    else assertUnavailable(beacon, SQL_LIMIT_MS)
    assert.ok(beacon.ms < SQL_LIMIT_MS, `the beacon answered in ${Math.round(beacon.ms)} ms`)
    // A reward is granted in one SQL transaction or not at all.
    assertUnavailable(await timed(unlock), SQL_LIMIT_MS)
    assertUnavailable(
      await timed(() => t.admin('PATCH', `/admin/campaigns/${id}`, { name: 'renamed while stalled' })),
      SQL_LIMIT_MS,
    )
    await assertNotReady(t, 'database', /^timeout$/)

    // A burst far larger than the pool and its queue: each call answers 503 in time, none waits behind
    // the rest.
    const burst = await timed(() =>
      Promise.all(Array.from({ length: 100 }, () => t.admin('GET', `/admin/campaigns/${id}`))),
    )
    assert.deepEqual([...new Set(burst.value.map((r) => r.statusCode))], [503])
    assert.ok(burst.ms < SQL_LIMIT_MS, `100 admin reads answered in ${Math.round(burst.ms)} ms`)

    proxy.resume()
    // Connections whose query timed out were dropped, not reused: every read after the stall is clean.
    assert.ok(await eventually(async () => (await t.admin('GET', '/admin/units')).statusCode === 200, 5_000))
    const reads = await Promise.all(
      Array.from({ length: 20 }, () => t.admin('GET', `/admin/campaigns/${id}`)),
    )
    assert.deepEqual([...new Set(reads.map((r) => r.statusCode))], [200])
    assert.equal((await impression()).statusCode, 200)
    assert.equal((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)

    // The phone sends the unlock that got a 503 again: paid now, and the report counts one unlock, not two.
    const again = await unlock()
    assert.equal(again.statusCode, 200, again.body)
    assert.ok(again.json().reward_received > 0, again.body)
    const day = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Seoul' }).format(Date.now())
    const unlocks = async () => {
      const res = await t.admin('GET', `/admin/reports/campaigns?from=${day}&to=${day}`)
      return (res.json().rows as { unlocks: number }[]).reduce((n, r) => n + r.unlocks, 0)
    }
    assert.ok(await eventually(async () => (await unlocks()) > 0, 5_000), 'the paid unlock is reported')
    assert.equal(await unlocks(), 1, 'the unlock answered 503 is not in the report')
  })
})
