import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MockAgent } from 'undici'
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

// 16:10 UTC: already 01:10 on the next day in Seoul, so each unit's figures fall on its own local day.
const T1 = Date.UTC(2026, 10, 25, 16, 10)
const SEOUL = 1500
const LONDON = 1600
const PUBLISHER = 'http://publisher.test'
const SALE = '봄 세일, "특가"'

for (const backend of await sqlBackends()) {
  describe(`insight: delivery reports on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp
    let databaseUrl: string
    const agent = new MockAgent()
    const ids: Record<string, number> = {}
    const env = { REPORT_FLUSH_MS: '100', POSTBACK_POLL_MS: '600000' }

    before(async () => {
      agent.disableNetConnect()
      agent.get(PUBLISHER).intercept({ path: '/pb', method: 'POST' }).reply(200, 'ok').persist()
      agent.get(PUBLISHER).intercept({ path: '/down', method: 'POST' }).reply(500, 'no').persist()
      databaseUrl = await backend.createDatabaseUrl()
      t = await startTestApp(databaseUrl, { clock: () => T1, dispatcher: agent, env })
      for (const unit of [
        { id: SEOUL, app_id: 9, timezone: 'Asia/Seoul', postback_url: `${PUBLISHER}/pb` },
        { id: LONDON, app_id: 10, timezone: 'UTC', content_type: 'none', postback_url: `${PUBLISHER}/down` },
      ]) {
        const res = await t.admin('POST', '/admin/units', unit)
        assert.equal(res.statusCode, 201, res.body)
      }
      const make = async (key: string, fields: object) => {
        const res = await t.admin('POST', '/admin/campaigns', {
          type: 'I',
          start_date: iso(T1 - 86_400_000),
          end_date: iso(T1 + 10 * 86_400_000),
          click_url: 'https://advertiser.test/',
          ...fields,
        })
        assert.equal(res.statusCode, 201, res.body)
        ids[key] = res.json().id
      }
      await make('sale', {
        name: SALE,
        unlock_reward: 5,
        landing_reward: 3,
        budget_type: 'impression',
        budget_daily: 100,
        budget_pacing: 'even',
      })
      await make('story', { name: 'story', type: 'C' })

      const phone = (device: number, unit: number, app: number, sdkVersion = 3000) =>
        sdk(
          t,
          {
            device_id: device,
            ifa: `ifa-${device}`,
            unit_device_token: `u-${device}`,
            unit_id: unit,
            app_id: app,
            sdk_version: sdkVersion,
          },
          () => T1,
        )
      const named = async (p: ReturnType<typeof phone>, name: string) => {
        const item = (await p.pool()).find((c) => c.name === name)
        assert.ok(item, `${name} allocated`)
        return item
      }
      // Seoul: two allocations, two impressions, one landing, one unlock.
      const one = phone(1, SEOUL, 9)
      const sale = await named(one, SALE)
      assert.equal((await one.impress(sale)).headers['x-allot-counted'], 'counted')
      assert.equal((await one.land(sale)).headers['x-allot-reward'], 'granted')
      // The landing carried the base part of this period (3 + 2), so the unlock pays its own part only.
      assert.equal((await one.unlock(sale)).json().reward_received, 5)
      const two = phone(2, SEOUL, 9)
      assert.equal((await two.impress(await named(two, SALE))).headers['x-allot-counted'], 'counted')
      // London: one unlock whose postback fails (stays pending), and one empty answer (old SDK, no contents).
      const three = phone(3, LONDON, 10)
      assert.equal((await three.unlock(await named(three, SALE))).json().reward_received, 7)
      assert.deepEqual(await phone(4, LONDON, 10, 1400).pool(), [])
      await until(async () => {
        const items = (await t.admin('GET', '/admin/postbacks')).json().items as { attempts: number }[]
        return items.length === 3 && items.every((p) => p.attempts === 1)
      })
    })
    after(async () => {
      await t?.close()
      await agent.close()
      await backend.cleanup()
    })

    const until = async (check: () => Promise<boolean>) => {
      for (let i = 0; i < 200; i++) {
        if (await check()) return
        await new Promise((r) => setTimeout(r, 25))
      }
      assert.fail('timed out waiting')
    }
    const report = async (path: string) => {
      const res = await t.admin('GET', path)
      assert.equal(res.statusCode, 200, res.body)
      return res.json()
    }
    /** Waits for the allocation tally's next flush. */
    const flushed = () =>
      until(async () => {
        const rows = (await report('/admin/reports/units?from=2026-11-25&to=2026-11-26')).rows
        return rows.reduce((n: number, r: { requests: number }) => n + r.requests, 0) === 4
      })

    test('per campaign and local day: allocations, events, CTR, rewards by action, postbacks, budget pacing', async () => {
      await flushed()
      const body = await report('/admin/reports/campaigns?from=2026-11-25&to=2026-11-26')
      assert.deepEqual(
        body.rows.map((r: { day: string; campaign_name: string }) => [r.day, r.campaign_name]),
        [
          ['2026-11-25', SALE],
          ['2026-11-26', SALE],
          ['2026-11-26', 'story'],
        ],
        'London figures on its 25th, Seoul ones on its 26th',
      )
      const [london, seoul, story] = body.rows
      assert.deepEqual(
        { ...seoul, budget: undefined },
        {
          day: '2026-11-26',
          campaign_id: ids.sale,
          campaign_name: SALE,
          allocations: 2,
          impressions: 2,
          clicks: 1,
          ctr: 0.5,
          unlocks: 1,
          ineligible: 0,
          rewards: { u: { count: 1, points: 5 }, l: { count: 1, points: 5 } },
          postbacks: { delivered: 2, pending: 0, failed: 0 },
          budget: undefined,
        },
      )
      // 01:10 in Seoul: 70 of 1,440 minutes of the day passed; even pacing would be at 100 × 70/1440.
      assert.deepEqual(seoul.budget, {
        type: 'impression',
        daily: 100,
        total: null,
        spent: 2,
        pacing_line: 4.86,
        pacing: 0.4114,
      })
      assert.deepEqual(london.rewards, { u: { count: 1, points: 7 } })
      assert.deepEqual(london.postbacks, { delivered: 0, pending: 1, failed: 0 })
      assert.equal(london.allocations, 1)
      // 16:10 in London (UTC): 67.36 % of its 25th has passed.
      assert.equal(london.budget.pacing_line, 67.36)
      assert.equal(london.budget.spent, 0)
      assert.equal(story.allocations, 2)
      assert.equal(story.budget, null)
    })

    test('filters: one unit (budget figures stay campaign-wide), one campaign', async () => {
      const london = await report(`/admin/reports/campaigns?from=2026-11-25&to=2026-11-26&unit_id=${LONDON}`)
      assert.deepEqual(
        london.rows.map((r: { day: string; unlocks: number }) => [r.day, r.unlocks]),
        [['2026-11-25', 1]],
      )
      const story = await report(
        `/admin/reports/campaigns?from=2026-11-26&to=2026-11-26&campaign_id=${ids.story}`,
      )
      assert.deepEqual(
        story.rows.map((r: { campaign_name: string }) => r.campaign_name),
        ['story'],
      )
    })

    test('per unit and local day: requests, items, fill rate, empty answers, p50/p99 latency', async () => {
      await flushed()
      const { rows } = await report('/admin/reports/units?from=2026-11-25&to=2026-11-26')
      assert.deepEqual(
        rows.map((r: object) => ({ ...r, latency_p50_ms: undefined, latency_p99_ms: undefined })),
        [
          {
            day: '2026-11-25',
            unit_id: LONDON,
            unit_name: '',
            requests: 2,
            items: 1,
            empty: 1,
            fill_rate: 0.025,
            latency_p50_ms: undefined,
            latency_p99_ms: undefined,
          },
          {
            day: '2026-11-26',
            unit_id: SEOUL,
            unit_name: '',
            requests: 2,
            items: 4,
            empty: 0,
            fill_rate: 0.1,
            latency_p50_ms: undefined,
            latency_p99_ms: undefined,
          },
        ],
      )
      for (const r of rows) {
        assert.ok(r.latency_p50_ms > 0 && r.latency_p50_ms <= r.latency_p99_ms, JSON.stringify(r))
        assert.ok(r.latency_p99_ms <= 2000)
      }
      const one = await report(`/admin/reports/units?from=2026-11-26&to=2026-11-26&unit_id=${SEOUL}`)
      assert.equal(one.rows.length, 1)
    })

    test('CSV opens cleanly in a spreadsheet: UTF-8 with a BOM, ISO dates, quoted Korean names', async () => {
      const res = await t.admin('GET', '/admin/reports/campaigns?from=2026-11-25&to=2026-11-26&format=csv')
      assert.equal(res.statusCode, 200, res.body)
      assert.match(String(res.headers['content-type']), /^text\/csv; charset=utf-8/)
      assert.match(
        String(res.headers['content-disposition']),
        /attachment; filename="campaigns-2026-11-25-2026-11-26.csv"/,
      )
      const bytes = res.rawPayload
      assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM')
      const lines = res.body.replace(/^\uFEFF/, '').split('\r\n')
      assert.equal(lines.at(-1), '', 'every line ends with CRLF')
      assert.match(
        lines[0] ?? '',
        /^day,campaign_id,campaign_name,allocations,impressions,clicks,ctr,unlocks,ineligible,/,
      )
      assert.equal(
        lines[2],
        `2026-11-26,${ids.sale},"봄 세일, ""특가""",2,2,1,0.5,1,0,1,5,1,5,2,0,0,impression,100,,2,4.86,0.4114`,
      )
      const units = await t.admin('GET', '/admin/reports/units?from=2026-11-25&to=2026-11-26&format=csv')
      assert.match(
        units.body,
        /^\uFEFFday,unit_id,unit_name,requests,items,empty,fill_rate,latency_p50_ms,latency_p99_ms\r\n2026-11-25,1600,,2,1,1,0.025,/,
      )
    })

    test('ranges are real ISO dates, in order, at most 92 days; otherwise a 400 naming the problem', async () => {
      for (const [query, message] of [
        ['from=2026-11-26&to=2026-11-25', /to must not be before from/],
        ['from=2026-01-01&to=2026-04-03', /at most 92 days \(asked: 93\)/],
        ['from=2026-02-30&to=2026-03-01', /from must be a date/],
        ['from=26-11-25&to=2026-11-25', /from/],
        ['to=2026-11-25', /from is required/],
      ] as const) {
        const res = await t.admin('GET', `/admin/reports/campaigns?${query}`)
        assert.equal(res.statusCode, 400, `${query}: ${res.body}`)
        assert.match(res.json().msg, message)
      }
      assert.equal(
        (await t.admin('GET', '/admin/reports/units?from=2026-01-01&to=2026-04-01')).statusCode,
        200,
      )
    })

    test('the figures are durable: a restarted instance reports the same', async () => {
      await flushed()
      const before = await report('/admin/reports/campaigns?from=2026-11-25&to=2026-11-26')
      await t.close()
      t = await startTestApp(databaseUrl, { clock: () => T1, dispatcher: agent, env })
      assert.deepEqual(await report('/admin/reports/campaigns?from=2026-11-25&to=2026-11-26'), before)
    })
  })
}

for (const backend of await sqlBackends()) {
  describe(`insight: reach estimates on ${backend.name}`, { skip: backend.skip }, () => {
    const T = Date.UTC(2026, 10, 25, 3, 10)
    const DAY = 86_400_000
    let now = T
    let t: TestApp
    let databaseUrl: string
    const env = { REPORT_FLUSH_MS: '100' }
    // [device, sex, year of birth, region, days ago]
    const devices: [number, string, number, string, number][] = [
      [1, 'F', 1990, '서울특별시 관악구', 0],
      [2, 'F', 2001, '부산광역시 중구', 0],
      [3, 'M', 1990, '서울특별시 강남구', 0],
      [4, 'M', 1970, '서울특별시 관악구', 0],
      [5, 'F', 1985, '서울특별시 중구', 3],
      [6, 'M', 2003, '부산광역시 해운대구', 20],
    ]

    before(async () => {
      databaseUrl = await backend.createDatabaseUrl()
      t = await startTestApp(databaseUrl, { clock: () => now, env })
      const unit = await t.admin('POST', '/admin/units', { id: UNIT, app_id: 9, timezone: 'Asia/Seoul' })
      assert.equal(unit.statusCode, 201, unit.body)
      for (const [device, sex, year, region, daysAgo] of devices) {
        now = T - daysAgo * DAY
        const phone = sdk(
          t,
          { device_id: device, ifa: `i${device}`, unit_device_token: `u${device}`, unit_id: UNIT, app_id: 9 },
          () => now,
        )
        // Seen twice on its day: counted once.
        for (let i = 0; i < 2; i++) await phone.pool({ sex, year_of_birth: year, region, language: 'ko' })
      }
      now = T
    })
    after(async () => {
      await t?.close()
      await backend.cleanup()
    })

    const reach = async (app: TestApp, draft: object) => {
      const res = await app.admin('POST', '/admin/reach', draft)
      assert.equal(res.statusCode, 200, res.body)
      return res.json()
    }

    test('devices seen in the last 1 / 7 / 30 days that match, overall and rule by rule', async () => {
      const body = await reach(t, { target_gender: ['F'], target_region: ['서울특별시'], target_age_min: 30 })
      assert.deepEqual(body.sample, { devices: 6, rate: 1, refreshed_at: body.sample.refreshed_at })
      assert.match(body.method, /uniform sample/)
      const [today, week, month] = body.windows
      // Today: devices 1–4. Women: 1, 2; aged 30+ (2026 − 1990 − 1 = 35): 1; in Seoul: 1.
      assert.deepEqual(today, {
        days: 1,
        seen: 4,
        matching: 1,
        margin_95: 0,
        rules: [
          { field: 'target_gender', removes: 2, remaining: 2 },
          { field: 'target_age', removes: 1, remaining: 1 },
          { field: 'target_region', removes: 0, remaining: 1 },
        ],
      })
      assert.deepEqual([week.seen, week.matching], [5, 2], 'device 5 was seen 3 days ago')
      assert.deepEqual([month.seen, month.matching], [6, 2], 'device 6 was seen 20 days ago')
    })

    test('a draft in the admin campaign shape: other fields are ignored, bad targeting is a 400', async () => {
      const body = await reach(t, {
        name: 'draft',
        type: 'I',
        target_app: ['com.game'],
        detarget_gender: ['M'],
      })
      assert.deepEqual(body.ignored, ['target_app'])
      assert.equal(body.windows[2].matching, 3)
      const bad = await t.admin('POST', '/admin/reach', { target_age_min: 40, target_age_max: 20 })
      assert.equal(bad.statusCode, 400)
      assert.match(bad.json().msg, /target_age_min must not exceed target_age_max/)
      const unknown = await t.admin('POST', '/admin/reach', { target_planet: ['mars'] })
      assert.equal(unknown.statusCode, 400)
    })

    test('devices seen are written to the profile store: another instance estimates the same', async () => {
      const mine = await reach(t, { target_gender: ['M'] })
      // The store gets them within REPORT_FLUSH_MS; another instance rebuilds its sample from there.
      let other: TestApp | undefined
      try {
        other = await startTestApp(databaseUrl, {
          clock: () => now,
          env: { ...env, REACH_REFRESH_MS: '1000' },
        })
        for (let i = 0; i < 150; i++) {
          const theirs = await reach(other, { target_gender: ['M'] })
          if (theirs.sample.devices === 6) {
            assert.deepEqual(theirs.windows, mine.windows)
            return
          }
          await new Promise((r) => setTimeout(r, 50))
        }
        assert.fail('the other instance never saw the 6 devices')
      } finally {
        await other?.close()
      }
    })
  })
}
