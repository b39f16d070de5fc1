import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { MockAgent } from 'undici'
import { sqlBackends } from '../helpers/sql-backends.js'
import { form, startTestApp, type TestApp } from '../helpers/test-app.js'

const T0 = Date.UTC(2026, 10, 25, 3, 10) // 12:10 in Seoul
const HOUR = 3_600_000
const iso = (ms: number) => new Date(ms).toISOString()
const query = (fields: object) =>
  new URLSearchParams(Object.entries(fields).map(([k, v]): [string, string] => [k, String(v)]))
const PUBLISHER = 'http://publisher.test'
const HMAC_KEY = 'publisher-hmac-key-0123456789'

type Item = { id: number; payload: string }

for (const backend of await sqlBackends()) {
  describe(`events, rewards and postbacks on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp
    let now = T0
    const agent = new MockAgent()
    const postbacks: { body: string; headers: Record<string, string> }[] = []
    const campaigns: Record<string, number> = {}

    before(async () => {
      agent.disableNetConnect()
      agent
        .get(PUBLISHER)
        .intercept({ path: '/pb', method: 'POST' })
        .reply(200, (opts) => {
          postbacks.push({ body: String(opts.body), headers: opts.headers as Record<string, string> })
          return 'ok'
        })
        .persist()
      t = await startTestApp(await backend.createDatabaseUrl(), {
        clock: () => now,
        dispatcher: agent,
        env: { POSTBACK_POLL_MS: '600000' },
      })
      const unit = await t.admin('POST', '/admin/units', {
        id: 1500,
        app_id: 9,
        base_reward: 0,
        postback_url: `${PUBLISHER}/pb`,
        postback_hmac_key: HMAC_KEY,
        postback_headers: { 'x-publisher': 'acme' },
      })
      assert.equal(unit.statusCode, 201, unit.body)
      const make = async (name: string, fields: object) => {
        const res = await t.admin('POST', '/admin/campaigns', {
          name,
          type: 'I',
          is_ad: true,
          start_date: iso(T0 - 86_400_000),
          end_date: iso(T0 + 10 * 86_400_000),
          click_url: `https://advertiser.test/${name}`,
          ...fields,
        })
        assert.equal(res.statusCode, 201, res.body)
        campaigns[name] = res.json().id
      }
      await make('rewarded', { unlock_reward: 5, landing_reward: 3 })
      await make('hourly-capped', { ipu: 1 })
      await make('daily-capped', { dipu: 5 })
      await make('budgeted', { budget_type: 'impression', budget_total: 3 })
    })
    after(async () => {
      await t?.close()
      await agent.close()
      await backend.cleanup()
    })

    const allocate = async (device: number, token = `user-${device}`): Promise<Item[]> => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/allocation/',
        payload: form({ unit_id: 1500, device_id: device, unit_device_token: token }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
      assert.equal(res.statusCode, 200, res.body)
      return res.json().campaigns
    }
    const itemFor = async (device: number, name: string, token?: string): Promise<Item | undefined> =>
      (await allocate(device, token)).find((c) => c.id === campaigns[name])
    const payloadFor = async (device: number, name: string, token?: string): Promise<string> => {
      const item = await itemFor(device, name, token)
      assert.ok(item, `${name} allocated to device ${device}`)
      return item.payload
    }
    const impression = (fields: Record<string, string | number>) =>
      t.app.inject({ method: 'POST', url: '/api/impression/', payload: fields })
    const event = (device: number, name: string, payload: string, extra: object = {}) => ({
      payload,
      device_id: device,
      unit_id: 1500,
      campaign_id: campaigns[name] ?? 0,
      ...extra,
    })
    const until = async (check: () => boolean) => {
      for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10))
    }

    test('an impression counts toward the hourly cap: the campaign leaves the pool and a second one is refused', async () => {
      const device = 101
      const payload = await payloadFor(device, 'hourly-capped')
      const first = await impression(event(device, 'hourly-capped', payload))
      assert.equal(first.statusCode, 200, first.body)
      assert.equal(first.json().counted, true)
      assert.equal(await itemFor(device, 'hourly-capped'), undefined, 'capped after one impression per hour')
      const second = await impression(event(device, 'hourly-capped', payload))
      assert.equal(second.statusCode, 409)
      assert.equal(second.json().code, 3003)
      now += HOUR
      assert.ok(await itemFor(device, 'hourly-capped'), 'back an hour later')
      now = T0
    })

    test('an unlock grants the unlock reward once per slot hour and the publisher gets a signed postback', async () => {
      const device = 102
      const payload = await payloadFor(device, 'rewarded', 'publisher-user-102')
      const res = await impression(event(device, 'rewarded', payload, { click_type: 'u' }))
      assert.equal(res.statusCode, 200, res.body)
      const [reward] = res.json().rewards
      assert.equal(reward.action_type, 'u')
      assert.equal(reward.point, 5)
      await until(() => postbacks.some((p) => p.body.includes(`transaction_id=${reward.transaction_id}&`)))
      const sent = postbacks.find((p) => p.body.includes(`transaction_id=${reward.transaction_id}&`))
      assert.ok(sent, 'postback delivered')
      const fields = Object.fromEntries(new URLSearchParams(sent.body))
      assert.deepEqual(fields, {
        transaction_id: String(reward.transaction_id),
        user_id: 'publisher-user-102',
        unit_id: '1500',
        campaign_id: String(campaigns.rewarded),
        campaign_name: 'rewarded',
        event_at: String(Math.floor(T0 / 1000)),
        is_media: '0',
        action_type: 'u',
        point: '5',
        base_point: '0',
        revenue_type: 'cpm',
      })
      assert.equal(
        sent.headers['x-allot-signature'],
        createHmac('sha256', HMAC_KEY).update(sent.body).digest('hex'),
      )
      assert.equal(sent.headers['x-publisher'], 'acme')

      const again = await impression(event(device, 'rewarded', payload, { click_type: 'u' }))
      assert.equal(again.statusCode, 409)
      assert.equal(again.json().code, 3002)
      now += HOUR
      const nextHour = await impression(event(device, 'rewarded', payload, { click_type: 'u' }))
      assert.equal(nextHour.statusCode, 200, 'a new slot hour, a new unlock reward')
      now = T0
      const delivered = (await t.admin('GET', '/admin/postbacks?status=delivered')).json().items
      assert.ok(delivered.some((p: { transaction_id: number }) => p.transaction_id === reward.transaction_id))
    })

    test('100 concurrent copies of one unlock make exactly one ledger row and one postback', async () => {
      const device = 103
      const payload = await payloadFor(device, 'rewarded', 'race-user')
      const body = event(device, 'rewarded', payload, { click_type: 'u' })
      const answers = await Promise.all(Array.from({ length: 100 }, () => impression(body)))
      const statuses = answers.map((a) => a.statusCode)
      assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses}`)
      assert.equal(statuses.filter((s) => s === 409).length, 99)
      const mine = (await t.admin('GET', '/admin/postbacks?limit=1000'))
        .json()
        .items.filter((p: { body: string }) => p.body.includes('user_id=race-user'))
      assert.equal(mine.length, 1)
      await until(() => postbacks.filter((p) => p.body.includes('user_id=race-user')).length > 0)
      await new Promise((r) => setTimeout(r, 100))
      assert.equal(postbacks.filter((p) => p.body.includes('user_id=race-user')).length, 1)
    })

    test("the unit's base reward comes with an unlock at most once per base_init_period", async () => {
      const patched = await t.admin('PATCH', '/admin/units/1500', { base_reward: 2, base_init_period: 3600 })
      assert.equal(patched.statusCode, 200, patched.body)
      try {
        const device = 104
        // Base reward rides on any unlock, also through a campaign without its own unlock reward.
        const payload = await payloadFor(device, 'daily-capped')
        const first = await impression(event(device, 'daily-capped', payload, { click_type: 'u' }))
        assert.equal(first.statusCode, 200, first.body)
        assert.deepEqual(
          first.json().rewards.map((r: { action_type: string; point: number }) => [r.action_type, r.point]),
          [['b', 2]],
        )
        const second = await impression(event(device, 'daily-capped', payload, { click_type: 'u' }))
        assert.equal(second.statusCode, 409)
        now += HOUR
        const later = await impression(event(device, 'daily-capped', payload, { click_type: 'u' }))
        assert.equal(later.statusCode, 200)
      } finally {
        now = T0
        await t.admin('PATCH', '/admin/units/1500', { base_reward: 0 })
      }
    })

    test('a landing redirects to click_url, grants the landing reward once per slot hour and records the click', async () => {
      const device = 105
      const payload = await payloadFor(device, 'rewarded')
      const q = query(event(device, 'rewarded', payload))
      const first = await t.app.inject({ method: 'GET', url: `/api/click_redirect/?${q}` })
      assert.equal(first.statusCode, 302, first.body)
      assert.equal(first.headers.location, 'https://advertiser.test/rewarded')
      assert.match(String(first.headers['x-allot-reward']), /^granted \d+$/)
      const second = await t.app.inject({ method: 'GET', url: `/api/click_redirect/?${q}` })
      assert.equal(second.statusCode, 302, 'the user still lands')
      assert.equal(second.headers['x-allot-reward'], 'duplicate')
      const landing = (await t.admin('GET', '/admin/postbacks?limit=1000'))
        .json()
        .items.filter(
          (p: { body: string }) =>
            p.body.includes('action_type=l') && p.body.includes(`user_id=user-${device}`),
        )
      assert.equal(landing.length, 1)
    })

    test('every forged payload variant is a 400 with code 3001', async () => {
      const device = 106
      const payload = await payloadFor(device, 'rewarded')
      const other = await payloadFor(device, 'hourly-capped')
      const [body, mac] = payload.split('.')
      const claims = JSON.parse(Buffer.from(body ?? '', 'base64url').toString())
      const richer = Buffer.from(JSON.stringify({ ...claims, r: { ...claims.r, u: 5000 } })).toString(
        'base64url',
      )
      const variants: [string, Record<string, string | number>][] = [
        ['another device', event(device + 1, 'rewarded', payload)],
        ['another campaign', event(device, 'hourly-capped', payload)],
        ['another unit', { ...event(device, 'rewarded', payload), unit_id: 1001 }],
        ["another campaign's payload", event(device, 'rewarded', other)],
        ['a changed reward', event(device, 'rewarded', `${richer}.${mac}`)],
        ['a changed signature', event(device, 'rewarded', `${body}.${'A'.repeat(43)}`)],
        ['garbage', event(device, 'rewarded', 'not-a-payload')],
        ['two dots', event(device, 'rewarded', `${payload}.x`)],
      ]
      for (const [name, fields] of variants) {
        for (const click_type of ['i', 'u']) {
          const res = await impression({ ...fields, click_type })
          assert.equal(res.statusCode, 400, `${name} (${click_type}): ${res.body}`)
          assert.equal(res.json().code, 3001, name)
        }
        const q = query(fields)
        const click = await t.app.inject({ method: 'GET', url: `/api/click_redirect/?${q}` })
        assert.equal(click.statusCode, 400, `${name} (click)`)
      }
      now = T0 + 18 * 86_400_000 // past campaign end + 7 days
      try {
        const expired = await impression(event(device, 'rewarded', payload))
        assert.equal(expired.statusCode, 400)
        assert.match(expired.json().msg, /expired/)
      } finally {
        now = T0
      }
      const missing = await impression({ device_id: device, unit_id: 1500, campaign_id: 1 })
      assert.equal(missing.statusCode, 400)
      assert.match(missing.json().msg, /payload/)
    })

    test('caps are exact when 50 allocations and impressions for one device race', async () => {
      const device = 107
      const results = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const item = await itemFor(device, 'daily-capped')
          if (!item) return 'not allocated'
          const res = await impression(event(device, 'daily-capped', item.payload))
          return res.statusCode
        }),
      )
      assert.equal(results.filter((r) => r === 200).length, 5, `dipu 5: ${results}`)
      assert.ok(results.every((r) => r === 200 || r === 409 || r === 'not allocated'))
      assert.equal(await itemFor(device, 'daily-capped'), undefined)
    })

    test('a total budget is never overspent under concurrent impressions from many devices', async () => {
      const payloads = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => [200 + i, await payloadFor(200 + i, 'budgeted')] as const),
      )
      const answers = await Promise.all(
        payloads.map(([device, payload]) => impression(event(device, 'budgeted', payload))),
      )
      const statuses = answers.map((a) => a.statusCode)
      assert.equal(statuses.filter((s) => s === 200).length, 3, `budget_total 3: ${statuses}`)
      assert.ok(answers.filter((a) => a.statusCode === 409).every((a) => a.json().code === 3004))
      assert.equal(await itemFor(300, 'budgeted'), undefined, 'an exhausted campaign is no longer allocated')
    })
  })
}
