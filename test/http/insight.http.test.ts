import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { formBody, sdk } from '../helpers/sdk.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/test-app.js'

const T0 = Date.UTC(2026, 10, 25, 3, 10) // Wednesday 12:10 in Seoul
const iso = (ms: number) => new Date(ms).toISOString()
const UNIT = 1500

for (const backend of await sqlBackends()) {
  describe(`insight: the decision explainer on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp
    const now = T0
    const ids: Record<string, number> = {}

    before(async () => {
      t = await startTestApp(await backend.createDatabaseUrl(), { clock: () => now })
      const unit = await t.admin('POST', '/admin/units', { id: UNIT, app_id: 9, timezone: 'Asia/Seoul' })
      assert.equal(unit.statusCode, 201, unit.body)
      const make = async (name: string, fields: object) => {
        const res = await t.admin('POST', '/admin/campaigns', {
          name,
          type: 'I',
          start_date: iso(T0 - 86_400_000),
          end_date: iso(T0 + 10 * 86_400_000),
          click_url: 'https://advertiser.test/',
          ...fields,
        })
        assert.equal(res.statusCode, 201, res.body)
        ids[name] = res.json().id
      }
      await make('open', {})
      await make('men only', { target_gender: ['M'] })
      await make('capped', { ipu: 1 })
      await make('tonight', { week_slot: [2 * 24 + 22] })
      await make('paused', { status: 'paused' })
      await make('story', { type: 'C' })
      await make('elsewhere', { target_unit: ['4242'] })
    })
    after(async () => {
      await t?.close()
      await backend.cleanup()
    })

    const phone = (device: number) =>
      sdk(
        t,
        {
          device_id: device,
          ifa: `ifa-${device}`,
          unit_device_token: `u-${device}`,
          unit_id: UNIT,
          app_id: 9,
        },
        () => now,
      )
    const explain = (device: number, fields: Record<string, string | number> = {}) =>
      t.admin('POST', '/admin/explain', {
        unit_id: UNIT,
        device_id: device,
        ifa: `ifa-${device}`,
        unit_device_token: `u-${device}`,
        sdk_version: 3000,
        timezone: 'Asia/Seoul',
        country: 'KR',
        sex: 'F',
        ...fields,
      })

    test('each campaign of the unit is served, or says which rule kept it out with the values involved', async () => {
      const device = phone(7)
      const pool = await device.pool({ sex: 'F' })
      const capped = pool.find((c) => c.name === 'capped')
      assert.ok(capped)
      assert.equal((await device.impress(capped)).statusCode, 200)

      const res = await explain(7)
      assert.equal(res.statusCode, 200, res.body)
      const body = res.json()
      const byName = Object.fromEntries(body.campaigns.map((c: { name: string }) => [c.name, c]))
      assert.equal(byName.elsewhere, undefined, 'a campaign targeted at another unit is not listed')
      assert.equal(byName.paused, undefined, 'a paused campaign is not in the catalog snapshot')
      assert.equal(byName.open.served, true)
      assert.equal(byName.open.wire_id, (ids.open as number) + 1_000_000_000)
      assert.equal(byName.story.served, true)
      assert.deepEqual(byName['men only'].detail, {
        rule: 'targeting',
        field: 'target_gender',
        device_value: 'F',
        target: ['M'],
        detarget: null,
      })
      assert.deepEqual(byName.capped.detail, {
        rule: 'cap',
        ipu: 1,
        dipu: null,
        tipu: null,
        impressions: { last_hour: 1, last_day: 1, retained: 1 },
      })
      assert.deepEqual(byName.tonight.detail, {
        rule: 'week_slot',
        slot: 2 * 24 + 12,
        weekday: 2,
        hour: 12,
        timezone: 'Asia/Seoul',
        allowed: [2 * 24 + 22],
      })
      assert.deepEqual(body.current_slot, { slot: 60, weekday: 2, hour: 12 })
      assert.equal(body.device.gender, 'F')

      // What it says is served is exactly what the SDK gets now.
      const again = (await device.pool({ sex: 'F' })).map((c) => c.name).sort()
      const served = body.campaigns
        .filter((c: { served: boolean }) => c.served)
        .map((c: { name: string }) => c.name)
      assert.deepEqual(served.sort(), again)
      assert.equal(body.served, again.length)
    })

    test('one campaign by id, also outside the snapshot (paused); an unknown id is a 404', async () => {
      const paused = await explain(7, { campaign_id: ids.paused as number })
      assert.equal(paused.statusCode, 200, paused.body)
      assert.equal(paused.json().campaigns.length, 1)
      assert.equal(paused.json().campaigns[0].detail.rule, 'schedule')
      assert.equal(paused.json().campaigns[0].detail.status, 'paused')
      const unknown = await explain(7, { campaign_id: 999_999 })
      assert.equal(unknown.statusCode, 404, unknown.body)
    })

    test('explaining records nothing: a new device stays new until it is allocated', async () => {
      const first = await explain(8)
      assert.equal(first.json().first_allocation, true)
      assert.equal(
        (await explain(8)).json().first_allocation,
        true,
        'the first explanation registered nothing',
      )
      await phone(8).pool()
      assert.equal((await explain(8)).json().first_allocation, false)
    })

    test('the body is an SDK allocation body: form-encoded works, a missing field is a 400 naming it', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/admin/explain',
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        payload: formBody({
          unit_id: UNIT,
          device_id: 7,
          ifa: 'i',
          unit_device_token: 'u',
          sdk_version: 1400,
          timezone: 'UTC',
        }),
      })
      assert.equal(res.statusCode, 200, res.body)
      const open = res.json().campaigns.find((c: { name: string }) => c.name === 'open')
      assert.deepEqual(open.detail, { rule: 'supply', reason: 'sdk_version' })
      const bad = await t.admin('POST', '/admin/explain', { unit_id: UNIT, ifa: 'i' })
      assert.equal(bad.statusCode, 400)
      assert.match(bad.json().msg, /device_id/)
      const anonymous = await t.app.inject({ method: 'POST', url: '/admin/explain', payload: {} })
      assert.equal(anonymous.statusCode, 401)
    })
  })
}
