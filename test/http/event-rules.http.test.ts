import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MockAgent } from 'undici'
import { formBody, sdk, sdkCheck } from '../helpers/sdk.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'
import type { V1ItemType } from '../helpers/v1-wire.js'

/*
 * What an event counts and pays, held as a phone in the field would see it (issue #19): the split of a
 * reward between the campaign and the unit's base part, a landing counted once per slot hour, landings that
 * go only where Allot sent them, and traffic that arrives after a campaign stopped.
 */

const T0 = Date.UTC(2026, 10, 25, 3, 10) // 12:10 in Seoul
const DAY = 86_400_000
const iso = (ms: number) => new Date(ms).toISOString()
const PUBLISHER = 'http://publisher.test'
const LEGACY_KEY = 'legacy-key-16byt'

type Postback = Record<string, string>

for (const backend of await sqlBackends()) {
  describe(`event rules on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp
    let now = T0
    const agent = new MockAgent()
    const ids: Record<string, number> = {}
    let nextDevice = 1

    before(async () => {
      agent.disableNetConnect()
      agent.get(PUBLISHER).intercept({ path: '/pb', method: 'POST' }).reply(200, 'ok').persist()
      t = await startTestApp(await backend.createDatabaseUrl(), {
        clock: () => now,
        dispatcher: agent,
        env: {
          POSTBACK_POLL_MS: '600000',
          LEGACY_PAYLOAD_KEY: LEGACY_KEY,
          LEGACY_PAYLOAD_UNTIL: iso(T0 + 2 * DAY),
        },
      })
      // Units: base reward 2 or 0, a Korean and a US one.
      for (const [id, base_reward, country] of [
        [2100, 2, 'KR'],
        [2101, 0, 'KR'],
        [2102, 2, 'US'],
        [2103, 0, 'US'],
      ] as const) {
        const res = await t.admin('POST', '/admin/units', {
          id,
          app_id: id,
          base_reward,
          country,
          timezone: 'Asia/Seoul',
          postback_url: `${PUBLISHER}/pb`,
        })
        assert.equal(res.statusCode, 201, res.body)
      }
      const make = async (name: string, fields: object) => {
        const res = await t.admin('POST', '/admin/campaigns', {
          name,
          type: 'I',
          is_ad: true,
          start_date: iso(T0 - DAY),
          end_date: iso(T0 + 10 * DAY),
          click_url: `https://advertiser.test/${name}?ifa={ifa}`,
          ...fields,
        })
        assert.equal(res.statusCode, 201, res.body)
        ids[name] = res.json().id
      }
      await make('ad', { unlock_reward: 5, landing_reward: 3 })
      await make('story', { type: 'C', is_ad: false, landing_reward: 4, categories: ['news'] })
      await make('clicks', { landing_reward: 0, budget_type: 'click', budget_total: 100 })
      await make('to-pause', { landing_reward: 2, unlock_reward: 2, budget_type: 'click', budget_total: 12 })
      await make('ending', { landing_reward: 2, end_date: iso(T0 + DAY) })
    })
    after(async () => {
      await t?.close()
      await agent.close()
      await backend.cleanup()
    })

    const phone = (unitId: number, sdkVersion = 3000, device = nextDevice++) =>
      sdk(
        t,
        {
          device_id: 40_000 + device,
          ifa: `ifa-${device}`,
          unit_device_token: `user-${device}`,
          unit_id: unitId,
          app_id: unitId,
          sdk_version: sdkVersion,
        },
        () => now,
      )
    const itemOf = async (p: ReturnType<typeof phone>, name: string): Promise<V1ItemType> => {
      const found = (await p.pool({ country: '' })).find((c) => c.name === name)
      assert.ok(found, `${name} allocated`)
      return found
    }
    /** The postback the publisher is to receive for this user (one per grant). */
    const postbacksFor = async (user: string): Promise<Postback[]> =>
      (await t.admin('GET', '/admin/postbacks?limit=1000'))
        .json()
        .items.map((p: { body: string }) => Object.fromEntries(new URLSearchParams(p.body)))
        .filter((p: Postback) => p.user_id === user)
    const campaignDay = async (name: string) => {
      const day = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Seoul' }).format(now)
      const res = await t.admin(
        'GET',
        `/admin/reports/campaigns?from=${day}&to=${day}&campaign_id=${ids[name]}`,
      )
      assert.equal(res.statusCode, 200, res.body)
      const rows: { clicks: number; impressions: number; unlocks: number; ineligible: number }[] =
        res.json().rows
      const sum = (k: 'clicks' | 'impressions' | 'unlocks' | 'ineligible') =>
        rows.reduce((n, r) => n + r[k], 0)
      return {
        clicks: sum('clicks'),
        impressions: sum('impressions'),
        unlocks: sum('unlocks'),
        ineligible: sum('ineligible'),
      }
    }

    describe('a reward is split into what the campaign and the item are configured for, never more than claimed', () => {
      // Every gate of docs/architecture.md §W3 that could touch a reward: below 1501 no ads, 1820 the ratio cap,
      // ≤ 1240 no base part on ads.
      const versions = [1240, 1241, 1500, 1501, 1819, 1820, 3000]
      const claims = ['item', 'zero', 'absent'] as const
      for (const unitId of [2100, 2101, 2102, 2103])
        for (const version of versions)
          test(`unit ${unitId}, sdk_version ${version}: unlock and landing, base_reward as the item says, 0 or absent`, async () => {
            const unitBase = unitId === 2100 || unitId === 2102 ? 2 : 0
            const us = unitId >= 2102
            for (const action of ['unlock', 'landing'] as const)
              for (const claim of claims)
                for (const name of ['ad', 'story']) {
                  const p = phone(unitId, version)
                  const pool = await p.pool({ country: '' })
                  const it = pool.find((c) => c.name === name)
                  if (name === 'ad' && version < 1501) {
                    assert.equal(it, undefined, 'no ads below 1501')
                    continue
                  }
                  assert.ok(it, `${name} allocated`)
                  const withheld = name === 'ad' && (us || version <= 1240)
                  const itemBase = withheld ? 0 : unitBase
                  assert.equal(it.base_reward, itemBase, 'the item carries the base part v1 gives it')
                  const campaignPart = action === 'unlock' ? it.unlock_reward : it.landing_reward
                  const expected = campaignPart + itemBase
                  // The SDK claims the item's reward plus its base part; legacy SDKs send base_reward 0 or none.
                  const sent = claim === 'item' ? itemBase : claim === 'zero' ? 0 : undefined
                  const label = `${name} ${action}, base_reward ${claim}`
                  const reward = campaignPart + itemBase
                  let paid: number
                  if (action === 'unlock') {
                    const res = await p.unlock(it, { reward, base_reward: sent ?? 0 }, (f) => {
                      if (sent !== undefined) return f
                      const { base_reward: _, ...rest } = f
                      return { ...rest, check: sdkCheckOf(rest, 0) }
                    })
                    assert.equal(res.statusCode, 200, `${label}: ${res.body}`)
                    paid = res.json().reward_received
                  } else {
                    const res = await p.land(it, { reward, base_reward: sent ?? 0 })
                    assert.equal(res.statusCode, 302, `${label}: ${res.body}`)
                    paid = expected > 0 ? (res.headers['x-allot-reward'] === 'granted' ? expected : -1) : 0
                  }
                  assert.equal(paid, expected, label)
                  const sentBack = await postbacksFor(p.device.unit_device_token)
                  if (expected === 0) {
                    assert.equal(sentBack.length, 0, `${label}: nothing to pay, no postback`)
                    continue
                  }
                  assert.equal(sentBack.length, 1, `${label}: one postback`)
                  assert.equal(sentBack[0]?.point, String(expected), `${label}: point is the total`)
                  assert.equal(sentBack[0]?.base_point, String(itemBase), `${label}: base_point`)
                }
          })

      test('a claim above the configured reward is paid what is configured; below it, what is claimed', async () => {
        const high = phone(2100)
        const ad = await itemOf(high, 'ad')
        const res = await high.unlock(ad, { reward: 50, base_reward: 2 })
        assert.deepEqual(res.json(), { reward_received: 7 })
        const low = phone(2100)
        const cheap = await low.unlock(await itemOf(low, 'ad'), { reward: 3, base_reward: 2 })
        assert.deepEqual(cheap.json(), { reward_received: 3 })
        const [row] = await postbacksFor(low.device.unit_device_token)
        assert.deepEqual([row?.point, row?.base_point], ['3', '2'])
      })
    })

    test('a landing retried with the same payload in the same slot hour counts one click (and pays once)', async () => {
      const p = phone(2100)
      const it = await itemOf(p, 'clicks')
      const before = await campaignDay('clicks')
      const answers = [await p.land(it), await p.land(it), await p.land(it)]
      for (const a of answers) assert.equal(a.statusCode, 302, a.body)
      assert.equal((await campaignDay('clicks')).clicks, before.clicks + 1)
      // The next slot hour is another click.
      now += 3_600_000
      try {
        assert.equal((await p.land(it)).statusCode, 302)
        assert.equal((await campaignDay('clicks')).clicks, before.clicks + 2)
      } finally {
        now -= 3_600_000
      }
    })

    describe('a landing goes only where Allot sent it', () => {
      const edited = (path: string, changes: Record<string, string>) => {
        const url = new URL(path, 'https://allot.test')
        for (const [k, v] of Object.entries(changes)) url.searchParams.set(k, v)
        return `${url.pathname}${url.search}`
      }
      /** A v1 external link as anyone can build one: the check is an MD5 of public values. */
      const externalLink = (campaignId: string, redirect: string) => {
        const fields = {
          unit_id: '2100',
          app_id: '2100',
          device_id: '777',
          ifa: 'ifa-777',
          unit_device_token: 'u',
          campaign_id: campaignId,
          campaign_type: 'I',
          campaign_name: 'x',
          campaign_owner_id: '',
          campaign_is_media: '0',
          slot: '1',
          reward: '0',
          base_reward: '0',
        }
        const check = sdkCheck(fields)
        return `/api/click_redirect/?${formBody({ ...fields, external_campaign_id: '1', redirect_url: redirect, check })}`
      }

      test('an edited redirect_url or an external link after the cut-over window never leaves for that URL', async () => {
        const p = phone(2100)
        const it = await itemOf(p, 'ad')
        const path = edited(p.landingPath(it), {
          external_campaign_id: '1',
          redirect_url: 'https://evil.example/login',
        })
        // The check covers neither field: the edited link still verifies.
        now = T0 + 3 * DAY
        try {
          const res = await t.app.inject({ method: 'GET', url: path })
          assert.equal(res.statusCode, 302, res.body)
          assert.match(
            String(res.headers.location),
            /^https:\/\/advertiser\.test\/ad\?ifa=/,
            'the campaign URL',
          )
          const forged = await t.app.inject({
            method: 'GET',
            url: externalLink('999999', 'https://evil.example/login'),
          })
          assert.equal(forged.statusCode, 400, 'no campaign of its own to land on: a clear 400')
          assert.equal(forged.json().code, 1001)
          assert.equal(forged.headers.location, undefined)
        } finally {
          now = T0
        }
      })

      test('a legacy external link is honoured only inside the cut-over window', async () => {
        const inside = await t.app.inject({
          method: 'GET',
          url: externalLink('1', 'https://partner.example/offer'),
        })
        assert.equal(inside.statusCode, 302, inside.body)
        assert.equal(inside.headers.location, 'https://partner.example/offer')
        assert.equal(inside.headers['x-allot-reward'], 'external')
      })
    })

    describe('paused, inactive and expired traffic never spends, but the user still lands', () => {
      test('a paused campaign: landings redirect without clicks or budget; beacons and unlocks count nothing', async () => {
        const [a, b] = [phone(2100), phone(2100)]
        const [ia, ib] = [await itemOf(a, 'to-pause'), await itemOf(b, 'to-pause')]
        const before = await campaignDay('to-pause')
        assert.equal((await a.land(ia)).headers['x-allot-reward'], 'granted')
        await t.admin('PATCH', `/admin/campaigns/${ids['to-pause']}`, { status: 'paused' })
        try {
          const land = await b.land(ib)
          assert.equal(land.statusCode, 302)
          assert.match(String(land.headers.location), /^https:\/\/advertiser\.test\/to-pause/)
          assert.equal(land.headers['x-allot-reward'], 'inactive')
          const beacon = await b.impress(ib)
          assert.deepEqual([beacon.statusCode, beacon.json()], [200, { msg: 'ok', status: 200 }])
          assert.equal(beacon.headers['x-allot-counted'], 'inactive')
          assert.deepEqual((await b.unlock(ib)).json(), { reward_received: 0 })
          const after = await campaignDay('to-pause')
          assert.equal(after.clicks, before.clicks + 1, 'only the click before the pause')
          assert.equal(after.impressions, before.impressions)
          assert.equal(after.unlocks, before.unlocks)
          assert.equal(after.ineligible, before.ineligible + 3, 'shown in its own column')
          const budget = (
            await t.admin(
              'GET',
              `/admin/reports/campaigns?from=2026-11-25&to=2026-11-25&campaign_id=${ids['to-pause']}`,
            )
          ).json().rows[0].budget
          assert.equal(budget.spent, 1, 'the click budget spent only before the pause')
        } finally {
          await t.admin('PATCH', `/admin/campaigns/${ids['to-pause']}`, { status: 'active' })
        }
      })

      test('an inactive unit: the landing redirects, nothing is counted or paid', async () => {
        const p = phone(2101)
        const it = await itemOf(p, 'ad')
        const before = await campaignDay('ad')
        await t.admin('PATCH', '/admin/units/2101', { is_active: false })
        try {
          const land = await p.land(it)
          assert.equal(land.statusCode, 302, land.body)
          assert.equal(land.headers['x-allot-reward'], 'inactive')
          assert.equal((await p.impress(it)).headers['x-allot-counted'], 'inactive')
          const after = await campaignDay('ad')
          assert.deepEqual([after.clicks, after.impressions], [before.clicks, before.impressions])
          assert.equal(after.ineligible, before.ineligible + 2)
          assert.equal((await postbacksFor(p.device.unit_device_token)).length, 0)
        } finally {
          await t.admin('PATCH', '/admin/units/2101', { is_active: true })
        }
      })

      test('a payload past its campaign end + 7 days: the landing redirects, no click is counted', async () => {
        const p = phone(2100)
        const it = await itemOf(p, 'ending')
        const before = await campaignDay('ending')
        now = T0 + 9 * DAY
        try {
          const land = await p.land(it)
          assert.equal(land.statusCode, 302, land.body)
          assert.equal(land.headers['x-allot-reward'], 'expired')
          assert.equal((await p.impress(it)).headers['x-allot-counted'], 'expired')
        } finally {
          now = T0
        }
        const after = await campaignDay('ending')
        assert.equal(after.clicks, before.clicks)
      })
    })
  })
}

/** The unlock check over a form without base_reward: the SDK hashes what it sends (an absent field as 0). */
function sdkCheckOf(f: Record<string, string | number>, baseReward: number): string {
  return sdkCheck({
    device_id: f.device_id ?? '',
    ifa: String(f.ifa),
    unit_device_token: String(f.unit_device_token),
    app_id: f.app_id ?? '',
    campaign_id: f.click_campaign_id ?? '',
    campaign_type: String(f.click_campaign_type),
    campaign_name: String(f.click_campaign_name),
    campaign_owner_id: String(f.click_campaign_owner_id),
    campaign_is_media: f.click_campaign_is_media ?? '',
    slot: f.slot ?? '',
    reward: f.reward ?? '',
    base_reward: baseReward,
  })
}
