import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import SQLite from 'better-sqlite3'
import { addCappedAd, allocation, eventually, timed } from '../helpers/faults.js'
import { type OwnRedis, ownRedisSkip, startOwnRedis } from '../helpers/redis-server.js'
import { demoPhone } from '../helpers/sdk.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'
import type { V1ItemType } from '../helpers/v1-wire.js'

/*
 * Redis is a cache and a lock, never a store of record: with Redis down, stalled or restarting every SDK path
 * answers as it does without Redis configured, /readyz stays ready (saying Redis is degraded), and nothing is
 * counted twice.
 */

// Redis faults do not depend on the SQL backend: SQLite keeps the suite quick.
const [sqlite] = await sqlBackends()
const skip = ownRedisSkip()
after(() => sqlite?.cleanup())
const DEADLINE_MS = 50

/** A campaign id to PATCH through the admin API. */
async function someCampaign(t: TestApp): Promise<number> {
  const res = await t.admin('GET', '/admin/campaigns?limit=1')
  const body = res.json()
  return (body.items ?? body)[0].id
}

/** The demo catalog plus the capped ad, on a fresh SQLite database, with Redis at `redisUrl`. */
async function startRedisApp(redisUrl: string, env: Record<string, string> = {}): Promise<TestApp> {
  const url = await (sqlite ?? assert.fail('no sqlite')).createDatabaseUrl()
  const t = await startTestApp(url, { seed: true, env: { REDIS_URL: redisUrl, ...env } })
  await addCappedAd(t)
  return t
}

/** An own Redis behind a TCP proxy (to stall the network path), and an app using it through the proxy. */
type ProxiedRedisApp = { redis: OwnRedis; proxy: TcpProxy; t: TestApp; close(): Promise<void> }

async function startProxiedRedisApp(env: Record<string, string> = {}): Promise<ProxiedRedisApp> {
  const redis = await startOwnRedis()
  const proxy = await startTcpProxy(redis.port)
  const t = await startRedisApp(`redis://127.0.0.1:${proxy.port}`, env)
  return {
    redis,
    proxy,
    t,
    async close() {
      proxy.resume()
      await t.close()
      await proxy.close()
      await redis.close()
    },
  }
}

const phoneOf = demoPhone

/** An item of campaign `name` (the capped ad unless told) allocated to `device`. */
async function cappedItem(t: TestApp, device: number, name = 'capped'): Promise<V1ItemType> {
  // A capped ad sits out an allocation whose device data missed the deadline (a cold device on a busy
  // machine); the next allocation finds the device loaded.
  for (let attempt = 0; attempt < 5; attempt++) {
    const found = (await phoneOf(t, device).pool()).find((c) => c.name === name)
    if (found) return found
  }
  assert.fail(`${name} is allocated to device ${device}`)
}

/** The clicks of campaign `name` today in its campaign report (Asia/Seoul days, as the demo units). */
async function campaignClicks(t: TestApp, name: string): Promise<number> {
  const day = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Seoul' }).format(Date.now())
  const campaigns = (await t.admin('GET', '/admin/campaigns?limit=1000')).json()
  const campaign = (campaigns.items ?? campaigns).find((c: { name: string }) => c.name === name)
  const report = await t.admin(
    'GET',
    `/admin/reports/campaigns?from=${day}&to=${day}&campaign_id=${campaign.id}`,
  )
  return report.json().rows.reduce((n: number, r: { clicks: number }) => n + r.clicks, 0)
}

/** /readyz: 200 within a second, Redis named as degraded. */
async function assertDegraded(t: TestApp): Promise<void> {
  const { value: res, ms } = await timed(() => t.app.inject({ method: 'GET', url: '/readyz' }))
  assert.equal(res.statusCode, 200, res.body)
  assert.equal(res.json().status, 'degraded', res.body)
  assert.deepEqual(res.json().degraded, ['redis'])
  assert.match(res.json().checks.redis, /^(unreachable|timeout)$/)
  assert.ok(ms < 1_000, `/readyz answered in ${Math.round(ms)} ms`)
  const metrics = await t.ops.inject({ method: 'GET', url: '/metrics' })
  assert.match(metrics.body, /allot_dependency_up\{dependency="redis",required="false"\} 0/)
  assert.match(metrics.body, /allot_dependency_up\{dependency="database",required="true"\} 1/)
}

/** Every SDK event path through items allocated while Redis was up: answered as without Redis, in time. */
async function assertEventsServed(t: TestApp, device: number, item: V1ItemType): Promise<void> {
  const phone = phoneOf(t, device)
  const beacon = await timed(() => phone.impress(item))
  assert.equal(beacon.value.statusCode, 200, beacon.value.body)
  assert.equal(beacon.value.headers['x-allot-counted'], 'counted', 'the capped beacon counts')
  assert.ok(beacon.ms < 1_000, `beacon in ${Math.round(beacon.ms)} ms`)
  const unlock = await phone.unlock(item)
  assert.deepEqual([unlock.statusCode, unlock.json()], [200, { reward_received: 4 }])
  const landing = await phone.land(item)
  assert.equal(landing.statusCode, 302, landing.body)
  assert.equal(landing.headers['x-allot-reward'], 'granted')
  assert.match(String(landing.headers.location), /^https:\/\/advertiser\.test\/capped/)
}

describe('Redis killed, then back', { skip }, () => {
  let redis: OwnRedis
  let t: TestApp
  before(async () => {
    redis = await startOwnRedis()
    t = await startRedisApp(redis.url)
  })
  after(async () => {
    await t?.close()
    await redis?.close()
  })

  test('without Redis every SDK path answers as without Redis configured; /readyz stays ready, Redis degraded', async () => {
    const item = await cappedItem(t, 1)
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

    await assertEventsServed(t, 1, item)
    await assertDegraded(t)

    await redis.start()
    assert.ok(
      await eventually(
        async () => (await t.app.inject({ method: 'GET', url: '/readyz' })).json().status === 'ready',
        10_000,
      ),
      'ready again',
    )
    const metrics = await t.ops.inject({ method: 'GET', url: '/metrics' })
    assert.match(metrics.body, /allot_dependency_up\{dependency="redis",required="false"\} 1/)
  })
})

describe('Redis stalled (the network path stops answering), then resumed', { skip }, () => {
  let proxy: TcpProxy
  let t: TestApp
  let stack: ProxiedRedisApp | undefined
  before(async () => {
    stack = await startProxiedRedisApp()
    ;({ proxy, t } = stack)
  })
  after(() => stack?.close())

  test('while stalled: events answered within the command timeout, allocations and admin writes unaffected', async () => {
    const item = await cappedItem(t, 11)
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

    await assertEventsServed(t, 11, item)
    await assertDegraded(t)
    proxy.resume()
  })
})

describe('Redis slow: what a landing waits for', { skip }, () => {
  let proxy: TcpProxy
  let t: TestApp
  let stack: ProxiedRedisApp | undefined
  before(async () => {
    // Redis commands wait up to 5 s here, far longer than the checks below.
    stack = await startProxiedRedisApp({ REDIS_TIMEOUT_MS: '5000' })
    ;({ proxy, t } = stack)
    const res = await t.admin('POST', '/admin/campaigns', {
      name: 'paid per click',
      type: 'I',
      is_ad: true,
      first_display_priority: 99,
      landing_reward: 3,
      budget_type: 'click',
      budget_total: 1_000,
      start_date: new Date(Date.now() - 86_400_000).toISOString(),
      end_date: new Date(Date.now() + 86_400_000).toISOString(),
      click_url: 'https://advertiser.test/per-click?ifa={ifa}',
    })
    assert.equal(res.statusCode, 201, res.body)
  })
  after(() => stack?.close())

  /** Landing rewards in the ledger of this device (the store of record, read past the app). */
  const landingGrants = (device: number): number => {
    const db = new SQLite(t.databaseUrl.replace(/^sqlite:/, ''), { readonly: true })
    try {
      const row = db
        .prepare("select count(*) as n from reward_ledger where device_id = ? and action_type = 'l'")
        .get(device) as { n: number }
      return row.n
    } finally {
      db.close()
    }
  }

  test('without a click budget neither the grant nor the answer waits for the click: both come while Redis stalls', async () => {
    const item = await cappedItem(t, 31)
    const before = await campaignClicks(t, 'capped')
    proxy.stall()
    const landing = phoneOf(t, 31).land(item)
    // The click's once-key waits on Redis (up to 5 s); neither the reward nor the answer depends on it.
    const granted = await eventually(async () => landingGrants(31) === 1, 2_500)
    const answered = await Promise.race([
      landing.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2_500)),
    ])
    proxy.resume()
    const res = await landing
    assert.ok(granted, 'the landing reward was written while the click still waited on Redis')
    assert.ok(answered, 'the landing was answered while its click still waited on Redis')
    assert.equal(res.statusCode, 302, res.body)
    assert.equal(res.headers['x-allot-reward'], 'granted')
    // Counted once Redis answers: a report read waits for the clicks still on their way.
    assert.equal(await campaignClicks(t, 'capped'), before + 1)
  })

  test('with a click budget the grant waits for the click (its budget may have run out)', async () => {
    const item = await cappedItem(t, 32, 'paid per click')
    proxy.stall()
    const landing = phoneOf(t, 32).land(item)
    await new Promise((r) => setTimeout(r, 1_000))
    const early = landingGrants(32)
    proxy.resume()
    const res = await landing
    assert.equal(early, 0, 'no reward before the click was counted against its budget')
    assert.equal(res.statusCode, 302, res.body)
    assert.equal(res.headers['x-allot-reward'], 'granted')
    assert.equal(landingGrants(32), 1)
  })
})

describe('Redis killed and restarted under load', { skip }, () => {
  let redis: OwnRedis
  let t: TestApp
  before(async () => {
    redis = await startOwnRedis()
    t = await startRedisApp(redis.url)
  })
  after(async () => {
    await t?.close()
    await redis?.close()
  })

  test('landings 302 throughout, each click counted once though every landing is retried, no 5xx anywhere', async () => {
    const DEVICES = 60
    const items = new Map<number, V1ItemType>()
    for (let d = 0; d < DEVICES; d++) items.set(100 + d, await cappedItem(t, 100 + d))
    const statuses = new Map<string, number[]>()
    const note = (kind: string, res: { statusCode: number }) => {
      const list = statuses.get(kind) ?? []
      list.push(res.statusCode)
      statuses.set(kind, list)
    }
    let landed = 0
    let stop = false
    // Light load: each device allocates, fires its beacon, unlocks and lands twice (the phone retrying).
    const load = async (device: number) => {
      const phone = phoneOf(t, device)
      const item = items.get(device) ?? assert.fail('an item')
      let round = 0
      while (!stop) {
        note('allocation', await allocation(t, device))
        note('beacon', await phone.impress(item))
        note('unlock', await phone.unlock(item))
        if (round === 0) {
          for (let i = 0; i < 2; i++) {
            const res = await phone.land(item)
            note('landing', res)
            assert.match(String(res.headers.location), /^https:\/\/advertiser\.test\/capped/)
          }
          landed++
        }
        round++
        await new Promise((r) => setTimeout(r, 250))
      }
    }
    const workers = [...items.keys()].map((d) =>
      new Promise((r) => setTimeout(r, (d - 100) * 50)).then(() => load(d)),
    )
    const answered = () => [...statuses.values()].reduce((n, codes) => n + codes.length, 0)
    // The windows below only pace the scenario; what they must hold is checked: answers while Redis was down.
    await new Promise((r) => setTimeout(r, 500))
    await redis.kill()
    const atKill = answered()
    await new Promise((r) => setTimeout(r, 5_000))
    const whileDown = answered() - atKill
    await redis.start()
    await new Promise((r) => setTimeout(r, 1_500))
    stop = true
    await Promise.all(workers)

    assert.ok(whileDown > 0, 'requests were answered while Redis was down')
    assert.equal(landed, DEVICES, 'every device landed')
    for (const [kind, codes] of statuses) {
      const bad = codes.filter((c) => c >= 500)
      assert.deepEqual(bad, [], `${kind}: ${bad.length} of ${codes.length} answered 5xx`)
    }
    assert.deepEqual(new Set(statuses.get('landing')), new Set([302]), 'every landing redirected')
    const clicks = await campaignClicks(t, 'capped')
    assert.equal(clicks, DEVICES, 'one click per device: the retried landings counted nothing again')
  })
})
