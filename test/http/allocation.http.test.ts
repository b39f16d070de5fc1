import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createPayloadSigner } from '../../src/domain/payload-signer.js'
import { formBody, PUBLIC_BASE_URL, sdk } from '../helpers/sdk.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { PAYLOAD_SECRET, startTestApp, type TestApp } from '../helpers/test-app.js'
import { assertWire, V1ContentAllocation, type V1ItemType } from '../helpers/v1-wire.js'

const backends = await sqlBackends()
// Wednesday 2026-11-25 12:30 in Seoul.
const NOW = Date.UTC(2026, 10, 25, 3, 30)

for (const backend of backends) {
  describe(`v1 allocation (POST /api/allocation/, /api/content_allocation/) on ${backend.name}`, {
    skip: backend.skip,
  }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp(await backend.createDatabaseUrl(), { seed: true, clock: () => NOW })
    })
    after(async () => {
      await t?.close()
      await backend.cleanup()
    })

    const phone = (device_id: number, extra: { sdk_version?: number } = {}) =>
      sdk(
        t,
        {
          device_id,
          ifa: `ifa-${device_id}`,
          unit_device_token: `user-${device_id}`,
          unit_id: 1001,
          app_id: 100,
          ...extra,
        },
        () => NOW,
      )
    const byName = (items: V1ItemType[], name: string) => items.find((c) => c.name === name)

    test('a field SDK gets code 200, ads then contents, every key with its v1 type, and the 15 settings', async () => {
      const items = await phone(7).pool({ language: 'ko', year_of_birth: 95, sex: 'F' })
      const ads = items.filter((c) => c.is_ad)
      const contents = items.filter((c) => !c.is_ad)
      assert.ok(ads.length >= 3 && contents.length >= 10, `${ads.length} ads, ${contents.length} contents`)
      assert.ok(
        items.slice(0, ads.length).every((c) => c.is_ad),
        'ads come first',
      )
      const res = await phone(7).allocate()
      const body = res.json()
      assert.deepEqual(Object.keys(body), ['campaigns', 'msg', 'code', 'native_ads', 'settings'])
      assert.deepEqual(body.native_ads, [])
      assert.deepEqual(body.settings, {
        first_display_ratio: '9:1',
        page_display_ratio: '3:1',
        page_limit: 20,
        base_init_period: 3600,
        request_trigger: 600,
        request_period: 3600,
        hour_limit: 12,
        base_hour_limit: 1,
        external_base_reward: 0,
        external_campaign_id: 1,
        external_impression_cap: 500,
        external_add_call_limit: 500,
        shuffle_option: 0,
        ad_filtering_words: null,
        web_ua: null,
      })
    })

    test('ads carry their id + 1,000,000,000, contents their own id, and the v1 values of each key', async () => {
      const items = await phone(8).pool()
      const coffee = byName(items, 'Morning coffee coupon')
      assert.ok(coffee)
      assert.ok(coffee.id > 1_000_000_000 && coffee.id < 2_000_000_000)
      assert.equal(coffee.type, 'I')
      assert.equal(coffee.ipu, 9999, 'no ipu → 9999')
      assert.equal(coffee.tipu, 0)
      assert.equal(coffee.category, '')
      assert.equal(coffee.channel, null)
      assert.equal(coffee.landing_type, 'browser')
      assert.equal(coffee.base_reward, 2)
      assert.equal(coffee.unlock_reward, 1)
      assert.equal(coffee.first_display_weight, 50_000, 'display_weight 5 × 10,000')
      assert.equal(coffee.slot, '0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23')
      assert.deepEqual(coffee.extra, { creative_set: 'demo-1' })

      const story = items.find((c) => !c.is_ad && c.channel !== null)
      assert.ok(story)
      assert.ok(story.id < 1_000_000_000)
      assert.equal(story.type, 'C')
      assert.equal(story.first_display_priority, 10)
      assert.equal(story.unlock_reward, 0, 'contents never carry an unlock reward')
      assert.equal(story.channel_id, story.channel?.id)
      assert.match(story.category, /^(news|entertainment|sports|lifestyle|tech)$/)
      assert.equal(story.source_url.startsWith('https://news.example.com/articles/'), true)
      assert.equal(story.timezone, 'Asia/Seoul')
      assert.equal(story.impression_urls?.length, 1, 'one Allot beacon for a content')
      const overlay = items.find((c) => c.name === 'Story 10')
      assert.equal(overlay?.landing_type, 'overlay', 'a YouTube content opens as an overlay')
    })

    test("a story's channel belongs to the story's category in the demo data", async () => {
      const items = await phone(9).pool()
      const channels: { id: number; category: string }[] = (await t.admin('GET', '/admin/channels')).json()
        .items
      const stories = items.filter((c) => !c.is_ad && c.channel)
      assert.ok(stories.length >= 10)
      for (const story of stories) {
        assert.equal(channels.find((c) => c.id === story.channel?.id)?.category, story.category, story.name)
      }
    })

    test('is_media is true for the publisher-owned campaigns only', async () => {
      const items = await phone(10).pool()
      const own = byName(items, '우리 동네 마트 쿠폰')
      assert.equal(own?.is_media, true)
      assert.equal(byName(items, 'Morning coffee coupon')?.is_media, false)
    })

    test('click_url is the click-redirect URL with the SDK placeholders; a Korean landing URL survives', async () => {
      const items = await phone(11).pool()
      const mart = byName(items, '우리 동네 마트 쿠폰')
      assert.ok(mart)
      const url = new URL(mart.click_url)
      assert.equal(`${url.origin}${url.pathname}`, `${PUBLIC_BASE_URL}/api/click_redirect/`)
      const q = url.searchParams
      assert.deepEqual([...q.keys()], [...q.keys()].sort(), 'keys sorted, as Go encodes them')
      assert.equal(
        q.get('redirect_url'),
        'https://ads.example.com/%EC%BF%A0%ED%8F%B0/%EB%8F%99%EB%84%A4%20%EB%A7%88%ED%8A%B8?ifa=ifa-11',
      )
      assert.equal(
        decodeURI(q.get('redirect_url') ?? ''),
        'https://ads.example.com/쿠폰/동네 마트?ifa=ifa-11',
      )
      assert.equal(q.get('redirect_url_clean'), 'https://m.ads.example.com/%EC%BF%A0%ED%8F%B0')
      for (const [key, literal] of [
        ['reward', '__reward__'],
        ['base_reward', '__base_reward__'],
        ['slot', '__slot__'],
        ['campaign_payload', '__campaign_payload__'],
        ['check', '__check__'],
        ['client_unit_device_token', '__unit_device_token__'],
        ['place', '__place__'],
        ['use_clean_mode', '__use_clean_mode__'],
      ])
        assert.equal(q.get(key as string), literal, key)
      assert.equal(q.get('campaign_id'), String(mart.id))
      assert.equal(q.get('campaign_is_media'), '1')
      assert.equal(q.get('app_id'), '100')
      assert.equal(q.get('unit_device_token'), 'user-11')
      assert.ok(mart.click_url.includes('reward=__reward__'), 'the literal stays literal in the URL text')
    })

    test('each payload binds device, unit and campaign under PAYLOAD_SECRET', async () => {
      const items = await phone(99).pool()
      const signer = createPayloadSigner(PAYLOAD_SECRET)
      for (const item of items) {
        const claims = signer.verify(item.payload)
        assert.ok(claims, `payload of ${item.id} verifies`)
        assert.equal(claims.d, 99)
        assert.equal(claims.u, 1001)
        assert.equal(claims.c, item.is_ad ? item.id - 1_000_000_000 : item.id)
      }
    })

    test('app_id alone finds the lockscreen unit; a two-digit year of birth is the 1900s', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/allocation/',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: formBody({
          app_id: 100,
          device_id: 12,
          ifa: 'ifa-12',
          unit_device_token: 'u',
          sdk_version: 3000,
          timezone: 'Asia/Seoul',
          year_of_birth: 95,
        }),
      })
      assert.equal(res.statusCode, 200, res.body)
      // Fintech sign-up targets ages 20–39: born 1995 is 30 in 2026 (legacy rule: 2026 − 1995 − 1).
      assert.ok(byName(res.json().campaigns, 'Fintech sign-up'))
      const at2 = await phone(13).pool({ year_of_birth: 2 })
      assert.equal(byName(at2, 'Fintech sign-up'), undefined, '2 means 1902, not 2002')
    })

    test('filter_categories, filter_channel_ids and categories shape the contents the SDK gets', async () => {
      const all = (await phone(14).pool()).filter((c) => !c.is_ad)
      const noNews = (await phone(14).pool({ filter_categories: 'news' })).filter((c) => !c.is_ad)
      assert.ok(all.some((c) => c.category === 'news'))
      assert.ok(noNews.length > 0 && noNews.every((c) => c.category !== 'news'))
      const someChannel = all.find((c) => c.channel_id !== undefined)?.channel_id
      const noChannel = (await phone(14).pool({ filter_channel_ids: `${someChannel},999` })).filter(
        (c) => !c.is_ad,
      )
      assert.ok(noChannel.every((c) => c.channel_id !== someChannel))
      const onlySports = (await phone(14).pool({ categories: 'sports' })).filter((c) => !c.is_ad)
      assert.ok(onlySports.length > 0 && onlySports.every((c) => c.category === 'sports'))
    })

    test('SDK versions gate ads, the ratio cap and settings_page_display_ratio', async () => {
      await t.admin('PATCH', '/admin/units/1001', { first_display_ratio: '12:1' })
      try {
        const old = await phone(15, { sdk_version: 1500 }).allocate()
        assert.equal(old.statusCode, 200, old.body)
        assert.ok(
          old.json().campaigns.every((c: V1ItemType) => !c.is_ad),
          'no ads below 1501',
        )
        assert.equal(old.json().settings.first_display_ratio, '9:1', 'ad part capped at 9 below 1820')
        const current = await phone(15).allocate({ settings_page_display_ratio: '1:2' })
        assert.equal(current.json().settings.first_display_ratio, '12:1')
        assert.equal(current.json().settings.page_display_ratio, '1:2')
        const odd = await phone(15).allocate({ settings_page_display_ratio: '5:1' })
        assert.equal(odd.json().settings.page_display_ratio, '3:1', 'only 1:1, 1:2 and 1:3 override')
        const legacy = await phone(15, { sdk_version: 1240 }).pool()
        assert.ok(legacy.length > 0)
      } finally {
        await t.admin('PATCH', '/admin/units/1001', { first_display_ratio: '9:1' })
      }
      const oldAds = (await phone(16, { sdk_version: 1600 }).pool()).filter((c) => c.is_ad)
      assert.ok(oldAds.length > 0 && oldAds.every((c) => c.base_reward === 2))
      const legacyAds = (await phone(16, { sdk_version: 1240 }).pool()).filter((c) => c.is_ad)
      assert.ok(
        legacyAds.every((c) => c.base_reward === 0),
        'no base reward on ads for SDK ≤ 1240',
      )
    })

    test('unknown unit: 400 {"error":"unit can\'t be nil"}; inactive unit: 403 {"error":"unit is inactive"}', async () => {
      const missing = await phone(17).allocate({ unit_id: 424242, app_id: 4242 })
      assert.equal(missing.statusCode, 400)
      assert.equal(missing.json().error, "unit can't be nil")
      assert.equal(missing.json().code, 2001)
      const created = await t.admin('POST', '/admin/units', { id: 2002, app_id: 5, is_active: false })
      assert.equal(created.statusCode, 201, created.body)
      const inactive = await phone(17).allocate({ unit_id: 2002, app_id: 5 })
      assert.equal(inactive.statusCode, 403)
      assert.equal(inactive.json().error, 'unit is inactive')
    })

    test('required v1 fields: device_id, unit_device_token, timezone, a non-empty ifa and a non-zero sdk_version', async () => {
      for (const [field, value] of [
        ['device_id', undefined],
        ['device_id', '0'],
        ['unit_device_token', undefined],
        ['unit_device_token', '\u0000abc'],
        ['timezone', undefined],
        ['ifa', ''],
        ['sdk_version', '0'],
        ['year_of_birth', 'x'],
      ] as const) {
        const res = await phone(18).allocate({ [field]: value })
        assert.equal(res.statusCode, 400, `${field}=${value}: ${res.body}`)
        assert.equal(res.json().code, 1001)
        assert.match(res.json().msg, new RegExp(field))
      }
    })

    test('content allocation: contents only, no settings, and null campaigns for a unit without contents', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/content_allocation/',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: formBody({ unit_id: 1001, device_id: 19, unit_device_token: 'u' }),
      })
      assert.equal(res.statusCode, 200, res.body)
      assertWire(V1ContentAllocation, res.json(), 'content allocation')
      assert.ok(res.json().campaigns.length > 0 && res.json().campaigns.every((c: V1ItemType) => !c.is_ad))
      await t.admin('POST', '/admin/units', { id: 2003, app_id: 6, content_type: 'none' })
      const none = await t.app.inject({
        method: 'POST',
        url: '/api/content_allocation',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: formBody({ unit_id: 2003, device_id: 19, unit_device_token: 'u' }),
      })
      assert.equal(none.statusCode, 200, none.body)
      assert.equal(none.json().campaigns, null)
    })

    test('a JSON body gets the same pool as the same form body (an Allot extra)', async () => {
      const fields = {
        unit_id: 1001,
        device_id: 20,
        ifa: 'ifa-20',
        unit_device_token: 'user-20',
        sdk_version: 3000,
        timezone: 'Asia/Seoul',
        sex: 'F',
        year_of_birth: 1995,
        region: '서울특별시 관악구',
      }
      const a = await t.app.inject({ method: 'POST', url: '/api/allocation/', payload: fields })
      const b = await phone(20).allocate({ sex: 'F', year_of_birth: 1995, region: '서울특별시 관악구' })
      const pool = (r: { campaigns: { id: number }[] }) => r.campaigns.map((c) => c.id).sort((x, y) => x - y)
      assert.deepEqual(pool(a.json()), pool(b.json()))
      assert.ok(byName(a.json().campaigns, 'Beauty brand week'), 'region + gender target')
    })

    test('a paused campaign is never allocated, and an admin change is visible to the next allocation', async () => {
      // The paused demo campaign exists and targets nobody in particular: only its status keeps it out.
      const campaigns = (await t.admin('GET', '/admin/campaigns?limit=1000')).json().items
      const paused = campaigns.find((c: { name: string }) => c.name === 'Paused brand film')
      assert.equal(paused?.status, 'paused')
      assert.equal(byName(await phone(21).pool(), 'Paused brand film'), undefined)
      await t.admin('PATCH', `/admin/campaigns/${paused.id}`, { status: 'active' })
      try {
        assert.ok(byName(await phone(21).pool(), 'Paused brand film'), 'served once active')
      } finally {
        await t.admin('PATCH', `/admin/campaigns/${paused.id}`, { status: 'paused' })
      }
      const created = await t.admin('POST', '/admin/campaigns', {
        name: 'Flash sale',
        type: 'I',
        start_date: new Date(NOW - 3_600_000).toISOString(),
        end_date: new Date(NOW + 3_600_000).toISOString(),
        click_url: 'https://shop.example.com/flash',
        first_display_priority: 100,
      })
      assert.equal(created.statusCode, 201, created.body)
      assert.equal((await phone(21).pool())[0]?.name, 'Flash sale')
      await t.admin('PATCH', `/admin/campaigns/${created.json().id}`, { status: 'paused' })
      assert.equal(byName(await phone(21).pool(), 'Flash sale'), undefined)
    })

    test('paths answer with and without the trailing slash', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/allocation',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: formBody({
          unit_id: 1001,
          device_id: 22,
          ifa: 'i',
          unit_device_token: 'u',
          sdk_version: 3000,
          timezone: 'UTC',
        }),
      })
      assert.equal(res.statusCode, 200, res.body)
    })
  })
}
