import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createConnection } from 'mysql2/promise'
import { eventually } from '../helpers/faults.js'
import { type OwnRedisCluster, startOwnRedisCluster } from '../helpers/redis-cluster.js'
import { ownRedisSkip } from '../helpers/redis-server.js'
import { demoPhone } from '../helpers/sdk.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'
import type { V1ItemType } from '../helpers/v1-wire.js'

/*
 * A Redis Cluster master killed under load (issue #21): its replica takes over, and meanwhile two Allot
 * instances answer every request as without Redis; no reward is lost or paid twice, caps and budgets stay
 * exact, and Allot reconnects by itself.
 */

const mariadb = (await sqlBackends()).find((b) => b.name === 'mariadb')
const skip = mariadb?.skip ?? ownRedisSkip()
const DEVICES = 40
const iso = (ms: number) => new Date(ms).toISOString()

describe('Redis Cluster: a master killed under load, two instances', { skip }, () => {
  let cluster: OwnRedisCluster
  let databaseUrl = ''
  let apps: TestApp[] = []
  before(async () => {
    cluster = await startOwnRedisCluster()
    databaseUrl = await (mariadb ?? assert.fail('no MariaDB backend')).createDatabaseUrl()
    const env = {
      REDIS_URL: cluster.url,
      REDIS_CLUSTER: 'true',
      REDIS_KEY_PREFIX: 'allot_f:',
      LOG_LEVEL: 'error',
    }
    const first = await startTestApp(databaseUrl, { seed: true, env })
    apps = [first, await startTestApp(databaseUrl, { seed: false, env })]
    const res = await first.admin('POST', '/admin/campaigns', {
      name: 'capped-budgeted',
      type: 'I',
      first_display_priority: 99,
      tipu: 1,
      unlock_reward: 2,
      budget_type: 'impression',
      budget_total: 30,
      start_date: iso(Date.now() - 60_000),
      end_date: iso(Date.now() + 86_400_000),
      click_url: 'https://advertiser.test/capped?ifa={ifa}',
    })
    assert.equal(res.statusCode, 201, res.body)
  })
  after(async () => {
    await Promise.all(apps.map((t) => t.close()))
    await cluster?.close()
    await mariadb?.cleanup()
  })

  const phone = demoPhone

  test('0 × 5xx, every grant once, caps and budget exact, and Allot reconnects', async () => {
    const items = new Map<number, V1ItemType>()
    // The second instance learns of the new campaign through the change notice or its next catalog refresh.
    for (let d = 0; d < DEVICES; d++) {
      const allocated = await eventually(async () => {
        const found = (await phone(apps[d % 2] as TestApp, 7000 + d).pool()).find(
          (c) => c.name === 'capped-budgeted',
        )
        if (found) items.set(d, found)
        return items.has(d)
      }, 5_000)
      assert.ok(allocated, `the capped ad is allocated to device ${d}`)
    }
    const statuses: number[] = []
    const failures: string[] = []
    const counted: string[] = []
    let granted = 0
    let stop = false
    // Each phone, again and again, alternating instances as nginx would: an allocation, a beacon and an unlock.
    const load = async (d: number) => {
      const item = items.get(d) as V1ItemType
      for (let round = 0; !stop; round++) {
        const p = phone(apps[(d + round) % 2] as TestApp, 7000 + d)
        const alloc = await p.allocate()
        const beacon = await p.impress(item)
        const unlock = await p.unlock(item)
        statuses.push(alloc.statusCode, beacon.statusCode, unlock.statusCode)
        for (const [path, res] of [
          ['allocation', alloc],
          ['beacon', beacon],
          ['unlock', unlock],
        ] as const) {
          if (res.statusCode >= 500) failures.push(`${path} ${res.statusCode} ${res.body.slice(0, 200)}`)
        }
        counted.push(String(beacon.headers['x-allot-counted']))
        if (unlock.statusCode === 200 && unlock.json().reward_received > 0) granted++
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    const running = Array.from({ length: DEVICES }, (_, d) => load(d))
    await new Promise((r) => setTimeout(r, 1_000))
    const [victim] = await cluster.masters()
    await cluster.kill(victim as number)
    const atKill = statuses.length
    await cluster.healthy()
    const duringFailover = statuses.length - atKill
    await new Promise((r) => setTimeout(r, 1_500))
    stop = true
    await Promise.all(running)

    assert.ok(duringFailover > 0, 'requests were answered during the failover')
    assert.deepEqual(failures, [], `${statuses.length} answers`)
    const sql = await createConnection(databaseUrl)
    try {
      const [ledger] = await sql.query(
        "select count(*) as n, count(distinct device_id) as devices from reward_ledger where action_type = 'u'",
      )
      const row = (ledger as { n: number; devices: number }[])[0]
      assert.equal(Number(row?.n), granted, 'every grant answered is in the ledger, once')
      assert.equal(Number(row?.devices), granted, 'one unlock grant per device this slot hour')
      const [budget] = await sql.query("select value from delivery_counters where name like 'imp:%'")
      const impressions = (budget as { value: number }[]).map((r) => Number(r.value))
      assert.ok(
        impressions.every((v) => v <= 30),
        `budget 30 never passed: ${impressions}`,
      )
    } finally {
      await sql.end()
    }
    assert.ok(counted.filter((c) => c === 'counted').length <= DEVICES, 'tipu=1: at most one per device')
    assert.ok(
      await eventually(
        async () => (await apps[0]?.app.inject({ method: 'GET', url: '/readyz' }))?.json().status === 'ready',
        10_000,
      ),
      'Allot is ready again, Redis included, without a restart',
    )
  })
})
