import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createPayloadSigner } from '../../src/services/payload-signer.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { form, PAYLOAD_SECRET, startTestApp, type TestApp } from '../helpers/test-app.js'

const backends = await sqlBackends()

for (const backend of backends) {
  describe(`POST /api/allocation/ on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp(await backend.createDatabaseUrl(), { seed: true })
    })
    after(async () => {
      await t?.close()
      await backend.cleanup()
    })

    const allocate = (payload: string | object, contentType?: string) =>
      t.app.inject({
        method: 'POST',
        url: '/api/allocation/',
        payload,
        headers: {
          'content-type':
            contentType ??
            (typeof payload === 'string' ? 'application/x-www-form-urlencoded' : 'application/json'),
        },
      })

    test('a form-encoded request for the demo unit returns ads and contents with settings', async () => {
      const res = await allocate(form({ unit_id: 1001, device_id: 7, country: 'KR', language: 'ko' }))
      assert.equal(res.statusCode, 200, res.body)
      const body = res.json()
      assert.equal(body.code, 0)
      const ads = body.campaigns.filter((c: { is_ad: boolean }) => c.is_ad)
      const contents = body.campaigns.filter((c: { is_ad: boolean }) => !c.is_ad)
      assert.ok(ads.length >= 2, `expected ads, got ${ads.length}`)
      assert.ok(contents.length >= 10, `expected contents, got ${contents.length}`)
      assert.deepEqual(body.settings, {
        first_display_ratio: '9:1',
        page_display_ratio: '3:1',
        page_limit: 20,
        base_init_period: 3600,
        request_trigger: 5,
        request_period: 3600,
        shuffle_option: 0,
      })
      const firstContent = body.campaigns.findIndex((c: { is_ad: boolean }) => !c.is_ad)
      assert.ok(
        body.campaigns.slice(firstContent).every((c: { is_ad: boolean }) => !c.is_ad),
        'ads come first',
      )
    })

    test('a JSON request gets the same pool as the same form request', async () => {
      const fields = {
        unit_id: 1001,
        device_id: 7,
        sex: 'F',
        year_of_birth: 1995,
        region: '서울특별시 관악구',
      }
      const a = (await allocate(fields)).json()
      const b = (await allocate(form(fields))).json()
      // Ads inside a priority tier come in weighted random order, so compare the pools as sets.
      const pool = (r: { campaigns: { id: number }[] }) => r.campaigns.map((c) => c.id).sort((x, y) => x - y)
      assert.deepEqual(pool(a), pool(b))
      assert.ok(
        a.campaigns.some((c: { name: string }) => c.name === 'Beauty brand week'),
        'region + gender target',
      )
    })

    test('each item carries a payload signed for this device, unit and campaign', async () => {
      const body = (await allocate({ unit_id: 1001, device_id: 99, unit_device_token: 'user-9' })).json()
      const signer = createPayloadSigner(PAYLOAD_SECRET)
      for (const item of body.campaigns) {
        const claims = signer.verify(item.payload, Date.now())
        assert.ok(claims, `payload of ${item.id} verifies`)
        assert.equal(claims.d, 99)
        assert.equal(claims.u, 1001)
        assert.equal(claims.c, item.id)
        assert.equal(claims.t, 'user-9')
        assert.equal(claims.r.u, item.unlock_reward)
        assert.equal(claims.exp, item.ended_at + 7 * 86400)
      }
    })

    test('a paused campaign is never allocated', async () => {
      const body = (await allocate({ unit_id: 1001, device_id: 1 })).json()
      assert.ok(!body.campaigns.some((c: { name: string }) => c.name === 'Paused brand film'))
    })

    test('an unknown unit is 400 and an inactive unit is 403, each with a stable code', async () => {
      const missing = await allocate({ unit_id: 424242, device_id: 1 })
      assert.equal(missing.statusCode, 400)
      assert.equal(missing.json().code, 2001)
      assert.match(missing.json().msg, /unit_id/)

      const created = await t.admin('POST', '/admin/units', { id: 2002, app_id: 5, is_active: false })
      assert.equal(created.statusCode, 201, created.body)
      const inactive = await allocate({ unit_id: 2002, device_id: 1 })
      assert.equal(inactive.statusCode, 403)
      assert.equal(inactive.json().code, 2002)
    })

    test('an admin change is visible to the next allocation', async () => {
      const created = await t.admin('POST', '/admin/campaigns', {
        name: 'Flash sale',
        type: 'I',
        start_date: new Date(Date.now() - 60_000).toISOString(),
        end_date: new Date(Date.now() + 86_400_000).toISOString(),
        first_display_priority: 100,
        target_unit: ['1001'],
      })
      assert.equal(created.statusCode, 201, created.body)
      const id = created.json().id
      const first = (await allocate({ unit_id: 1001, device_id: 5 })).json()
      assert.equal(first.campaigns[0].id, id, 'highest priority ad comes first')

      assert.equal((await t.admin('PATCH', `/admin/campaigns/${id}`, { status: 'paused' })).statusCode, 200)
      const second = (await allocate({ unit_id: 1001, device_id: 5 })).json()
      assert.ok(!second.campaigns.some((c: { id: number }) => c.id === id))
    })

    test('the content-only endpoint returns no ads', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/content_allocation',
        payload: { unit_id: 1001, device_id: 3 },
      })
      assert.equal(res.statusCode, 200)
      const body = res.json()
      assert.ok(body.campaigns.length > 0)
      assert.ok(body.campaigns.every((c: { is_ad: boolean }) => !c.is_ad))
    })
  })
}
