import assert from 'node:assert/strict'
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { MockAgent } from 'undici'
import { formBody, sdk, sdkCheck } from '../helpers/sdk.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'
import { assertWire, V1Impression, type V1ItemType, V1Unlock } from '../helpers/v1-wire.js'

const T0 = Date.UTC(2026, 10, 25, 3, 10) // 12:10 in Seoul
const HOUR = 3_600_000
const iso = (ms: number) => new Date(ms).toISOString()
const PUBLISHER = 'http://publisher.test'
const HMAC_KEY = 'publisher-hmac-key-0123456789'
const AES_KEY = 'publisher-aes-key-0123456789abcd' // 32 bytes: AES-256-CBC
const AES_IV = 'publisher-iv-016'
const LEGACY_KEY = 'legacy-key-16byt'
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

type Postback = { body: string; headers: Record<string, string> }

for (const backend of await sqlBackends()) {
  describe(`v1 events, rewards and postbacks on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp
    let now = T0 // moved only through at()
    const agent = new MockAgent()
    const postbacks: Postback[] = []
    const ids: Record<string, number> = {}

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
        env: {
          POSTBACK_POLL_MS: '600000',
          // at() moves the app's clock up to 30 days ahead for one request: a catalog poll (real time) landing
          // in that window would rebuild the catalog as of that day, without the campaigns ended by then, and
          // later tests would not be allocated them. Admin writes reload the catalog themselves.
          CATALOG_REFRESH_MS: '600000',
          LEGACY_PAYLOAD_KEY: LEGACY_KEY,
          LEGACY_PAYLOAD_UNTIL: iso(T0 + 30 * 86_400_000),
        },
      })
      const unit = await t.admin('POST', '/admin/units', {
        id: 1500,
        app_id: 9,
        owner_id: 42,
        base_reward: 2,
        base_init_period: 3600,
        postback_url: `${PUBLISHER}/pb`,
        postback_hmac_key: HMAC_KEY,
        postback_headers: { 'x-publisher': 'acme' },
        postback_aes_key: AES_KEY,
        postback_aes_iv: AES_IV,
      })
      assert.equal(unit.statusCode, 201, unit.body)
      const make = async (name: string, fields: object) => {
        const res = await t.admin('POST', '/admin/campaigns', {
          name,
          type: 'I',
          is_ad: true,
          start_date: iso(T0 - 86_400_000),
          end_date: iso(T0 + 10 * 86_400_000),
          click_url: `https://advertiser.test/${name}?ifa={ifa}`,
          ...fields,
        })
        assert.equal(res.statusCode, 201, res.body)
        ids[name] = res.json().id
      }
      await make('rewarded', { unlock_reward: 5, landing_reward: 3, owner_id: 42, extra: { sku: 'A-1' } })
      await make('spring sale', { unlock_reward: 1, type: 'J' })
      await make('hourly-capped', { ipu: 1 })
      await make('budgeted', { budget_type: 'impression', budget_total: 3 })
      await make('to-pause', { unlock_reward: 4 })
      await make('korean', { click_url: 'https://advertiser.test/쿠폰 페이지?ifa={ifa}', landing_reward: 1 })
      await make('clean', { clean_link: 'https://clean.advertiser.test/amp', landing_reward: 1 })
      await make('story', { type: 'C', is_ad: false, landing_reward: 4, categories: ['news'] })
    })
    after(async () => {
      await t?.close()
      await agent.close()
      await backend.cleanup()
    })

    const phone = (device: number, token = `user-${device}`) =>
      sdk(
        t,
        { device_id: device, ifa: `ifa-${device}`, unit_device_token: token, unit_id: 1500, app_id: 9 },
        () => now,
      )
    const item = async (device: number, name: string, token?: string): Promise<V1ItemType> => {
      const found = (await phone(device, token).pool()).find((c) => c.name === name)
      assert.ok(found, `${name} allocated to device ${device}`)
      return found
    }
    /** Runs `work` with the app's clock at `at`, and puts it back whatever happens. */
    const at = async <T>(time: number, work: () => Promise<T>): Promise<T> => {
      const before = now
      now = time
      try {
        return await work()
      } finally {
        now = before
      }
    }
    const until = async (check: () => boolean) => {
      for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10))
    }
    const sentFor = (user: string) =>
      postbacks.filter((p) => new URLSearchParams(p.body).get('user_id') === user)
    const outbox = async (user: string) =>
      (await t.admin('GET', '/admin/postbacks?limit=1000'))
        .json()
        .items.filter((p: { body: string }) => new URLSearchParams(p.body).get('user_id') === user)

    test('an unlock grants unlock reward + base part once per slot hour; the publisher gets one postback with the total', async () => {
      const device = 101
      const rewarded = await item(device, 'rewarded')
      assert.equal(rewarded.unlock_reward, 5)
      assert.equal(rewarded.base_reward, 2)
      assert.equal(rewarded.is_media, true)
      const res = await phone(device).unlock(rewarded)
      assert.equal(res.statusCode, 200, res.body)
      assertWire(V1Unlock, res.json(), 'unlock answer')
      assert.equal(res.json().reward_received, 7)

      await until(() => sentFor('user-101').length > 0)
      const [sent] = sentFor('user-101')
      assert.ok(sent, 'postback delivered')
      const fields = Object.fromEntries(new URLSearchParams(sent.body))
      const { data, transaction_id, ...rest } = fields
      assert.match(transaction_id ?? '', /^[0-9a-f]{32}$/, 'at most 32 characters, not guessable')
      assert.deepEqual(rest, {
        user_id: 'user-101',
        unit_id: '1500',
        campaign_id: String(rewarded.id),
        campaign_name: 'rewarded',
        event_at: String(Math.floor(T0 / 1000)),
        is_media: '1',
        extra: '{"sku":"A-1"}',
        action_type: 'u',
        point: '7',
        base_point: '2',
        revenue_type: 'cpe',
        click_type: 'u',
      })
      const decipher = createDecipheriv('aes-256-cbc', Buffer.from(AES_KEY), Buffer.from(AES_IV))
      const plain = Buffer.concat([decipher.update(Buffer.from(data ?? '', 'base64')), decipher.final()])
      assert.deepEqual(JSON.parse(plain.toString()), {
        transaction_id,
        user_id: 'user-101',
        unit_id: 1500,
        campaign_id: rewarded.id,
        campaign_name: 'rewarded',
        event_at: Math.floor(T0 / 1000),
        is_media: 1,
        extra: '{"sku":"A-1"}',
        action_type: 'u',
        point: 7,
        base_point: 2,
        revenue_type: 'cpe',
        click_type: 'u',
      })
      assert.equal(
        sent.headers['x-allot-signature'],
        createHmac('sha256', HMAC_KEY).update(sent.body).digest('hex'),
      )
      assert.equal(sent.headers['x-publisher'], 'acme')

      const again = await phone(device).unlock(rewarded)
      assert.equal(again.statusCode, 200)
      assert.deepEqual(again.json(), { reward_received: 0 }, 'a duplicate answers 0, as v1')
      const nextHour = await at(T0 + HOUR, () => phone(device).unlock(rewarded))
      assert.equal(nextHour.json().reward_received, 7, 'a new slot hour, a new unlock and base period')
      assert.equal((await outbox('user-101')).length, 2)
    })

    test('POST /api/unlock is the same unlock', async () => {
      const rewarded = await item(102, 'rewarded')
      const res = await phone(102).unlock(rewarded, {}, undefined, '/api/unlock')
      assert.equal(res.json().reward_received, 7)
    })

    test('the amount is what the campaign and unit are configured for, never more than the SDK claims', async () => {
      const rewarded = await item(103, 'rewarded')
      const greedy = await phone(103).unlock(rewarded, { reward: 500, base_reward: 50 })
      assert.equal(greedy.json().reward_received, 7)
      const modest = await at(T0 + HOUR, () => phone(103).unlock(rewarded, { reward: 3, base_reward: 1 }))
      assert.equal(modest.json().reward_received, 3, '2 of the unlock reward + 1 of the base part')
    })

    test('the base part comes at most once per base_init_period, whichever campaign unlocked', async () => {
      const device = 104
      const rewarded = await item(device, 'rewarded')
      const sale = await item(device, 'spring sale')
      assert.equal((await phone(device).unlock(rewarded)).json().reward_received, 7)
      assert.equal(
        (await phone(device).unlock(sale)).json().reward_received,
        1,
        'the base part was paid already',
      )
    })

    test('reward 0 answers 0 at once; an expired payload answers 0', async () => {
      const rewarded = await item(105, 'rewarded')
      const zero = await phone(105).unlock(rewarded, { reward: 0, base_reward: 0 }, (f) => ({
        ...f,
        check: 'x',
      }))
      assert.equal(zero.statusCode, 200)
      assert.deepEqual(zero.json(), { reward_received: 0 })
      const late = await at(T0 + 30 * 86_400_000, () => phone(105).unlock(rewarded))
      assert.deepEqual(late.json(), { reward_received: 0 }, 'campaign end + 7 days is past')
    })

    test('the check is verified as the SDK computes it, with its accepted variants', async () => {
      const device = 106
      const sale = await item(device, 'spring sale')
      const bad = await phone(device).unlock(sale, {}, (f) => ({ ...f, check: 'f'.repeat(32) }))
      assert.equal(bad.statusCode, 400)
      assert.equal(bad.json().code, 3005)
      const edited = await phone(device).unlock(sale, {}, (f) => ({ ...f, reward: 9 }))
      assert.equal(edited.statusCode, 400, 'a field changed after the check was computed')
      // iOS sent spaces as '+': the hash of the '+' form is accepted, upper-case hex too.
      const plusCheck = (f: Record<string, string | number>) =>
        sdkCheck({
          device_id: f.device_id as number,
          ifa: f.ifa as string,
          unit_device_token: f.unit_device_token as string,
          app_id: f.app_id as number,
          campaign_id: f.click_campaign_id as number,
          campaign_type: f.click_campaign_type as string,
          campaign_name: String(f.click_campaign_name).replaceAll(' ', '+'),
          campaign_owner_id: f.click_campaign_owner_id as string,
          campaign_is_media: f.click_campaign_is_media as number,
          slot: f.slot as number,
          reward: f.reward as number,
          base_reward: f.base_reward as number,
        }).toUpperCase()
      const plus = await phone(device).unlock(sale, {}, (f) => ({ ...f, check: plusCheck(f) }))
      assert.equal(plus.statusCode, 200, plus.body)
      assert.equal(plus.json().reward_received, 3)
      // app_id retried as the unit id (v1's lockscreen workaround).
      const rewarded = await item(device, 'rewarded')
      const asUnit = phone(device).unlockForm(rewarded)
      const withUnitApp = { ...asUnit, app_id: 777 }
      withUnitApp.check = sdkCheck({
        ...withUnitApp,
        app_id: 1500,
        campaign_id: withUnitApp.click_campaign_id,
        campaign_type: withUnitApp.click_campaign_type,
        campaign_name: withUnitApp.click_campaign_name,
        campaign_owner_id: withUnitApp.click_campaign_owner_id,
        campaign_is_media: withUnitApp.click_campaign_is_media,
      })
      const retried = await t.app.inject({
        method: 'POST',
        url: '/api/impression/',
        headers: FORM,
        payload: formBody(withUnitApp),
      })
      assert.equal(retried.json().reward_received, 5)
    })

    test('a payload of another device, campaign or unit, or none at all, is a 400 with code 3001', async () => {
      const device = 107
      const mine = await item(device, 'rewarded')
      const theirs = await item(device + 1, 'rewarded')
      const otherCampaign = await item(device, 'spring sale')
      const variants: [string, (f: Record<string, string | number>) => Record<string, string | number>][] = [
        ["another device's payload", (f) => ({ ...f, click_campaign_payload: theirs.payload })],
        ["another campaign's payload", (f) => ({ ...f, click_campaign_payload: otherCampaign.payload })],
        ['a tampered payload', (f) => ({ ...f, click_campaign_payload: `${mine.payload.slice(0, -2)}xx` })],
        ['garbage', (f) => ({ ...f, click_campaign_payload: 'not-a-payload' })],
        ['the literal placeholder', (f) => ({ ...f, click_campaign_payload: '__campaign_payload__' })],
      ]
      for (const [name, edit] of variants) {
        const res = await phone(device).unlock(mine, {}, edit)
        assert.equal(res.statusCode, 400, `${name}: ${res.body}`)
        assert.equal(res.json().code, 3001, name)
      }
      const otherUnit = await phone(device).unlock(mine, {}, (f) => ({ ...f, unit_id: 1001 }))
      assert.equal(otherUnit.statusCode, 400, otherUnit.body)
      const clickType = await phone(device).unlock(mine, {}, (f) => ({ ...f, click_type: 'l' }))
      assert.equal(clickType.statusCode, 400)
      assert.match(clickType.json().msg, /click_type/)
    })

    test('nothing is granted for a paused campaign or through an inactive unit', async () => {
      const device = 109
      const pausable = await item(device, 'to-pause')
      await t.admin('PATCH', `/admin/campaigns/${ids['to-pause']}`, { status: 'paused' })
      try {
        const res = await phone(device).unlock(pausable)
        assert.deepEqual(res.json(), { reward_received: 0 })
      } finally {
        await t.admin('PATCH', `/admin/campaigns/${ids['to-pause']}`, { status: 'active' })
      }
      const rewarded = await item(device, 'rewarded')
      await t.admin('PATCH', '/admin/units/1500', { is_active: false })
      try {
        const res = await phone(device).unlock(rewarded)
        assert.equal(res.statusCode, 400, res.body)
      } finally {
        await t.admin('PATCH', '/admin/units/1500', { is_active: true })
      }
    })

    test('50 concurrent copies of one unlock grant once and send one postback', async () => {
      const device = 110
      const rewarded = await item(device, 'rewarded', 'race-user')
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => phone(device, 'race-user').unlock(rewarded)),
      )
      const received: number[] = answers.map((a) => a.json().reward_received)
      assert.equal(received.filter((r) => r === 7).length, 1, `received: ${received}`)
      assert.equal(received.filter((r) => r === 0).length, 49)
      const [row] = await outbox('race-user')
      assert.ok(row, 'one outbox row')
      // Once its only row is delivered, nothing is left to send: the publisher saw exactly one.
      let delivered = false
      for (let i = 0; i < 300 && !delivered; i++) {
        delivered = (await outbox('race-user'))[0]?.status === 'delivered'
        if (!delivered) await new Promise((r) => setImmediate(r))
      }
      assert.ok(delivered, 'the postback was delivered')
      assert.equal(sentFor('race-user').length, 1)
    })

    test('a landing through click_url counts the click, grants the landing reward once and redirects to the campaign', async () => {
      const device = 111
      const rewarded = await item(device, 'rewarded')
      const first = await phone(device).land(rewarded)
      assert.equal(first.statusCode, 302, first.body)
      assert.equal(first.headers.location, 'https://advertiser.test/rewarded?ifa=ifa-111')
      assert.equal(first.headers['x-allot-reward'], 'granted')
      const second = await phone(device).land(rewarded)
      assert.equal(second.statusCode, 302, 'the user still lands')
      assert.equal(second.headers['x-allot-reward'], 'duplicate')
      const landings = (await outbox('user-111')).filter((p: { body: string }) =>
        p.body.includes('action_type=l'),
      )
      assert.equal(landings.length, 1)
      const fields = new URLSearchParams(landings[0].body)
      assert.equal(fields.get('point'), '5', 'landing 3 + base 2')
      assert.equal(fields.get('click_type'), 'l')
      const external = await t.app.inject({
        method: 'GET',
        url: phone(device)
          .landingPath(rewarded)
          .replace('/api/click_redirect/', '/api/external/click_redirect/'),
      })
      assert.equal(external.statusCode, 302)
    })

    test('the landing goes to the campaign URL, not to a redirect_url edited in the query', async () => {
      const rewarded = await item(112, 'rewarded')
      const path = phone(112)
        .landingPath(rewarded)
        .replace(/redirect_url=[^&]*/, 'redirect_url=https%3A%2F%2Fevil.test')
      const res = await t.app.inject({ method: 'GET', url: path })
      assert.equal(res.statusCode, 302)
      assert.equal(res.headers.location, 'https://advertiser.test/rewarded?ifa=ifa-112')
    })

    test('a Korean landing URL survives the round trip; clean mode opens the clean link', async () => {
      const korean = await item(113, 'korean')
      const res = await phone(113).land(korean)
      assert.equal(res.statusCode, 302, res.body)
      const location = String(res.headers.location)
      assert.match(location, /^[\x21-\x7e]+$/, 'a header-safe, percent-encoded Location')
      assert.equal(decodeURI(location), 'https://advertiser.test/쿠폰 페이지?ifa=ifa-113')
      const clean = await item(113, 'clean')
      const cleaned = await phone(113).land(clean, { clean: true })
      assert.equal(cleaned.headers.location, 'https://clean.advertiser.test/amp')
    })

    test('a landing with a forged payload still lands but counts and grants nothing', async () => {
      const device = 114
      const rewarded = await item(device, 'rewarded')
      const forged = { ...rewarded, payload: (await item(device + 1, 'rewarded')).payload }
      const res = await phone(device).land(forged)
      assert.equal(res.statusCode, 302)
      assert.equal(res.headers['x-allot-reward'], 'payload')
      assert.equal((await outbox('user-114')).length, 0)
      const badCheck = await t.app.inject({
        method: 'GET',
        url: phone(device)
          .landingPath(rewarded)
          .replace(/check=[0-9a-f]+/, 'check=0'),
      })
      assert.equal(badCheck.statusCode, 400)
    })

    test('the content impression beacon counts an impression; caps and budgets hold exactly', async () => {
      const device = 115
      const capped = await item(device, 'hourly-capped')
      const first = await phone(device).impress(capped)
      assert.equal(first.statusCode, 200, first.body)
      assertWire(V1Impression, first.json(), 'impression answer')
      assert.equal(first.headers['x-allot-counted'], 'counted')
      assert.equal(
        (await phone(device).pool()).find((c) => c.name === 'hourly-capped'),
        undefined,
        'capped after one impression per hour',
      )
      const second = await phone(device).impress(capped)
      assert.equal(second.statusCode, 200)
      assert.equal(second.headers['x-allot-counted'], 'cap')

      const budgeted = await Promise.all([120, 121, 122, 123].map((d) => item(d, 'budgeted')))
      const outcomes = []
      for (const [i, it] of budgeted.entries())
        outcomes.push((await phone(120 + i).impress(it)).headers['x-allot-counted'])
      assert.deepEqual(outcomes, ['counted', 'counted', 'counted', 'budget'])
      const forged = await t.app.inject({ method: 'GET', url: '/api/content_impression/?data=forged.x' })
      assert.equal(forged.statusCode, 400)
    })

    test('POST /api/rewards pays a stay-duration landing reward after a landing, once (409 after)', async () => {
      const device = 116
      const story = await item(device, 'story')
      assert.equal(story.landing_reward, 4)
      assert.equal(story.base_reward, 2)
      // reward 6 (4 + base 2) for slot 12, as the SDK sends it after the stay.
      const post = () => phone(device).stayReward(story, { slot: 12 })
      const early = await post()
      assert.equal(early.statusCode, 422, `no landing yet: ${early.body}`)
      // The SDK lands with no immediate reward (the stay decides), then asks for it.
      const landed = await phone(device).land(story, { reward: 0, base_reward: 0 })
      assert.equal(landed.statusCode, 302)
      const paid = await post()
      assert.equal(paid.statusCode, 200, paid.body)
      assert.equal(paid.body, '')
      const again = await post()
      assert.equal(again.statusCode, 409)
    })

    test('a payload the legacy server minted before the cut-over is redeemed once', async () => {
      const device = 117
      const rewarded = await item(device, 'rewarded')
      const endedAt = Math.floor((T0 + 10 * 86_400_000) / 1000)
      const cipher = createCipheriv('aes-128-cbc', Buffer.from(LEGACY_KEY), Buffer.from(LEGACY_KEY))
      const json = JSON.stringify({
        cou: 'KR',
        ended_at: endedAt,
        oid: 1,
        t: Math.floor(T0 / 1000) - 600,
        tz: 'Asia/Seoul',
      })
      const legacy = Buffer.concat([cipher.update(json), cipher.final()])
        .toString('base64')
        .replaceAll('+', '-')
        .replaceAll('/', '_')
      const res = await phone(device).unlock({ ...rewarded, payload: legacy })
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.json().reward_received, 7)
      assert.equal((await phone(device).unlock({ ...rewarded, payload: legacy })).json().reward_received, 0)
    })

    test('reward farming: made-up device ids with one user token collect at most hour_limit grants an hour', async () => {
      await t.admin('POST', '/admin/units', {
        id: 1600,
        app_id: 16,
        hour_limit: 3,
        base_hour_limit: 1,
        base_reward: 2,
      })
      const farmer = (device: number) =>
        sdk(
          t,
          {
            device_id: device,
            ifa: `farm-${device}`,
            unit_device_token: 'farmer',
            unit_id: 1600,
            app_id: 16,
          },
          () => now,
        )
      let paid = 0
      for (let device = 5000; device < 5050; device++) {
        const rewarded = (await farmer(device).pool()).find((c) => c.name === 'rewarded')
        assert.ok(rewarded)
        paid += (await farmer(device).unlock(rewarded)).json().reward_received
      }
      assert.equal(paid, 5 + 2 + 5 + 5, 'three grants, the base part once')
      const nextHour = await at(T0 + HOUR, async () => {
        const next = (await farmer(5050).pool()).find((c) => c.name === 'rewarded')
        assert.ok(next)
        return (await farmer(5050).unlock(next)).json().reward_received
      })
      assert.equal(nextHour, 7, 'a new hour, a new allowance')
    })
  })
}
