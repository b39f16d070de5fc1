import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { sdk } from '../helpers/sdk.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'

/*
 * The event rate limit is per device, always (issue #19): phones behind one address (nginx without
 * TRUST_PROXY, a carrier NAT with it) never share a limit. The beacon's device is the one bound in its data.
 */

const [sqlite] = await sqlBackends()
const NAT = { 'x-forwarded-for': '203.0.113.7' }

describe('event rate limits', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp(await (sqlite ?? assert.fail('no sqlite')).createDatabaseUrl(), {
      seed: true,
      env: {
        EVENT_RATE_LIMIT_PER_MINUTE: '5',
        EVENT_RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '3',
        TRUST_PROXY: 'true',
      },
    })
  })
  after(async () => {
    await t?.close()
    await sqlite?.cleanup()
  })

  /** The SDK of `device`, every request from one carrier-NAT address. */
  const phone = (device: number) =>
    sdk(
      async (method, path, form) =>
        t.app.inject({
          method,
          url: path,
          headers: { ...NAT, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
          ...(form === undefined ? {} : { payload: form }),
        }),
      {
        device_id: device,
        ifa: `ifa-${device}`,
        unit_device_token: `user-${device}`,
        unit_id: 1001,
        app_id: 1,
      },
    )
  const firstAd = async (p: ReturnType<typeof phone>) => {
    const ad = (await p.pool()).find((c) => c.is_ad && c.unlock_reward > 0)
    assert.ok(ad, 'an ad with an unlock reward')
    return ad
  }

  test('beacons of 30 devices behind one address are all counted, past what one device may send', async () => {
    const counted: unknown[] = []
    for (let d = 1; d <= 30; d++) {
      const p = phone(500 + d)
      const res = await p.impress(await firstAd(p))
      assert.deepEqual([res.statusCode, res.json()], [200, { msg: 'ok', status: 200 }])
      counted.push(res.headers['x-allot-counted'])
    }
    assert.deepEqual(new Set(counted), new Set(['counted']))
  })

  test("one device past its limit: beacons still answer v1's 200, say limited and count nothing", async () => {
    const p = phone(600)
    const pool = (await p.pool()).filter((c) => c.impression_urls?.[0]?.includes('/api/content_impression/'))
    const outcomes: unknown[] = []
    for (let i = 0; i < 7; i++) {
      const res = await p.impress(pool[i % pool.length] ?? assert.fail('an item'))
      assert.deepEqual([res.statusCode, res.json()], [200, { msg: 'ok', status: 200 }])
      outcomes.push(res.headers['x-allot-counted'])
    }
    assert.deepEqual(outcomes.slice(5), ['limited', 'limited'])
    assert.ok(!outcomes.slice(0, 5).includes('limited'), `${outcomes}`)
    const other = phone(601)
    assert.notEqual((await other.impress(await firstAd(other))).headers['x-allot-counted'], 'limited')
  })

  test('one device past its limit: landings still land uncounted and unpaid; unlocks get a 429', async () => {
    const p = phone(700)
    const ad = await firstAd(p)
    const rewards: unknown[] = []
    for (let i = 0; i < 7; i++) {
      const res = await p.land(ad)
      assert.equal(res.statusCode, 302, res.body)
      rewards.push(res.headers['x-allot-reward'])
    }
    assert.deepEqual(rewards.slice(5), ['limited', 'limited'])
    const unlocks: number[] = []
    for (let i = 0; i < 7; i++) unlocks.push((await p.unlock(ad)).statusCode)
    assert.deepEqual(unlocks, [200, 200, 200, 200, 200, 429, 429])
    const refused = await p.unlock(ad)
    assert.equal(refused.json().code, 1007)
    assert.equal(refused.json().error, 'RateLimited')
    assert.equal(refused.headers['retry-after'], '60')
    const metrics = await t.ops.inject({ method: 'GET', url: '/metrics' })
    assert.match(metrics.body, /allot_rate_limited_total\{route="\/api\/click_redirect\/"\} 2/)
    assert.match(metrics.body, /allot_rate_limited_total\{route="\/api\/impression\/"\} 3/)
  })

  test('requests that name no device share their address, under a ceiling of their own', async () => {
    const beacon = (from: string) =>
      t.app.inject({
        method: 'GET',
        url: '/api/content_impression/?data=forged',
        headers: { 'x-forwarded-for': from },
      })
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) statuses.push((await beacon('198.51.100.1')).statusCode)
    assert.deepEqual(statuses, [400, 400, 400, 429, 429])
    assert.equal((await beacon('198.51.100.2')).statusCode, 400, 'another address has its own')
  })
})
