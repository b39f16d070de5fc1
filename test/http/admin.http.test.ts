import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { parseDatabaseUrl } from '../../src/config/config.js'
import { openDatabase } from '../../src/infra/database/database.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'

const iso = (ms: number) => new Date(ms).toISOString()

for (const backend of await sqlBackends()) {
  describe(`admin API on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp(await backend.createDatabaseUrl())
    })
    after(async () => {
      await t?.close()
      await backend.cleanup()
    })

    test('without the bearer token every admin route is 401', async () => {
      for (const [method, url] of [
        ['GET', '/admin/units'],
        ['POST', '/admin/campaigns'],
        ['DELETE', '/admin/channels/1'],
      ] as const) {
        const res = await t.app.inject({ method, url, headers: { authorization: 'Bearer wrong' } })
        assert.equal(res.statusCode, 401, `${method} ${url}`)
        assert.equal(res.json().code, 1101)
      }
      assert.equal((await t.app.inject({ method: 'GET', url: '/admin/units' })).statusCode, 401)
    })

    test('a device profile can be stored and read back, validated and behind the admin token', async () => {
      assert.equal((await t.admin('GET', '/admin/devices/4242/profile')).statusCode, 404)
      const put = await t.admin('PUT', '/admin/devices/4242/profile', {
        category_scores: { sports: 5, news: 1 },
      })
      assert.equal(put.statusCode, 200, put.body)
      const got = (await t.admin('GET', '/admin/devices/4242/profile')).json()
      assert.deepEqual(got.category_scores, { sports: 5, news: 1 })
      assert.equal(got.device_id, 4242)
      const bad = await t.admin('PUT', '/admin/devices/4242/profile', { category_scores: { sports: 'high' } })
      assert.equal(bad.statusCode, 400)
      assert.match(bad.json().msg, /category_scores/)
      const anonymous = await t.app.inject({ method: 'GET', url: '/admin/devices/4242/profile' })
      assert.equal(anonymous.statusCode, 401)
    })

    test('a unit can be created, read, listed, updated and deleted, with defaults filled in', async () => {
      const created = await t.admin('POST', '/admin/units', { id: 1500, app_id: 9, name: '잠금화면' })
      assert.equal(created.statusCode, 201, created.body)
      const unit = created.json()
      assert.equal(unit.id, 1500)
      assert.equal(unit.first_display_ratio, '9:1')
      assert.equal(unit.page_limit, 20)
      assert.equal(unit.base_reward, 2)
      assert.equal(unit.timezone, 'Asia/Seoul')
      assert.equal(unit.name, '잠금화면')

      assert.deepEqual((await t.admin('GET', '/admin/units/1500')).json(), unit)
      assert.ok(
        (await t.admin('GET', '/admin/units')).json().items.some((u: { id: number }) => u.id === 1500),
      )

      const patched = await t.admin('PATCH', '/admin/units/1500', { page_limit: 40, is_active: false })
      assert.equal(patched.statusCode, 200, patched.body)
      assert.equal(patched.json().page_limit, 40)
      assert.equal(patched.json().is_active, false)
      assert.equal(patched.json().app_id, 9, 'untouched fields stay')

      assert.equal((await t.admin('DELETE', '/admin/units/1500')).statusCode, 204)
      const gone = await t.admin('GET', '/admin/units/1500')
      assert.equal(gone.statusCode, 404)
      assert.equal(gone.json().code, 1102)
    })

    test('a campaign round-trips every targeting field, Korean regions included', async () => {
      const start = Date.UTC(2026, 0, 1)
      const body = {
        name: '서울 캠페인',
        type: 'J',
        start_date: '2026-01-01T09:00:00+09:00',
        end_date: iso(start + 30 * 86_400_000),
        target_region: ['서울특별시 관악구', '부산광역시'],
        detarget_region: ['서울특별시 강남구'],
        target_gender: ['F'],
        target_age_min: 20,
        target_age_max: 39,
        detarget_os_min: 21,
        detarget_os_max: 22,
        custom_target_2: ['gold'],
        target_app: ['-com.example.game'],
        week_slot: [0, 1, 167],
        ipu: 2,
        dipu: 5,
        tipu: 10,
        budget_type: 'click',
        budget_daily: 100,
        budget_pacing: 'even',
        landing_reward: 3,
      }
      const created = await t.admin('POST', '/admin/campaigns', body)
      assert.equal(created.statusCode, 201, created.body)
      const campaign = created.json()
      assert.equal(campaign.is_ad, true)
      assert.equal(campaign.start_date, iso(start), 'stored in UTC')
      for (const [key, value] of Object.entries(body)) {
        if (key === 'start_date') continue
        assert.deepEqual(campaign[key], value, key)
      }
      assert.deepEqual(campaign.target_country, [])
      assert.deepEqual((await t.admin('GET', `/admin/campaigns/${campaign.id}`)).json(), campaign)
    })

    test('invalid admin input is a 400 naming the field', async () => {
      const cases: [unknown, RegExp][] = [
        [{ type: 'I', start_date: iso(0), end_date: iso(1000) }, /name is required/],
        [{ name: 'x', type: 'Z', start_date: iso(0), end_date: iso(1000) }, /type must be one of/],
        [{ name: 'x', type: 'I', start_date: 'yesterday', end_date: iso(1000) }, /start_date/],
        [
          { name: 'x', type: 'I', start_date: iso(5000), end_date: iso(1000) },
          /end_date must be after start_date/,
        ],
        [{ name: 'x', type: 'C', is_ad: true, start_date: iso(0), end_date: iso(1000) }, /type must be 'C'/],
        [
          {
            name: 'x',
            type: 'I',
            start_date: iso(0),
            end_date: iso(1000),
            target_age_min: 40,
            target_age_max: 20,
          },
          /target_age_min/,
        ],
        [{ name: 'x', type: 'I', start_date: iso(0), end_date: iso(1000), week_slot: [168] }, /week_slot/],
        [
          { name: 'x', type: 'I', start_date: iso(0), end_date: iso(1000), colour: 'red' },
          /colour is not a known field/,
        ],
      ]
      for (const [payload, message] of cases) {
        const res = await t.admin('POST', '/admin/campaigns', payload)
        assert.equal(res.statusCode, 400, `${JSON.stringify(payload)} → ${res.body}`)
        assert.equal(res.json().code, 1001)
        assert.match(res.json().msg, message)
      }
      const badZone = await t.admin('POST', '/admin/units', { app_id: 1, timezone: 'Mars/Olympus' })
      assert.equal(badZone.statusCode, 400)
      assert.match(badZone.json().msg, /timezone/)
    })

    test('a patch that breaks a cross-field rule is refused and changes nothing', async () => {
      const created = (
        await t.admin('POST', '/admin/campaigns', {
          name: 'p',
          type: 'I',
          start_date: iso(0),
          end_date: iso(10_000),
        })
      ).json()
      const res = await t.admin('PATCH', `/admin/campaigns/${created.id}`, { end_date: iso(0) })
      assert.equal(res.statusCode, 400)
      assert.equal((await t.admin('GET', `/admin/campaigns/${created.id}`)).json().end_date, created.end_date)
    })

    test('unknown ids are 404 and a taken id is 409', async () => {
      assert.equal((await t.admin('GET', '/admin/campaigns/999999')).statusCode, 404)
      assert.equal((await t.admin('PATCH', '/admin/channels/999999', { name: 'x' })).statusCode, 404)
      assert.equal((await t.admin('DELETE', '/admin/categories/nope')).statusCode, 404)
      const id = (await t.admin('GET', '/admin/campaigns/abc')).json()
      assert.equal(id.code, 1001, 'a non-numeric id is a 400')
      assert.equal((await t.admin('POST', '/admin/units', { id: 1600, app_id: 1 })).statusCode, 201)
      const dup = await t.admin('POST', '/admin/units', { id: 1600, app_id: 1 })
      assert.equal(dup.statusCode, 409)
      assert.equal(dup.json().code, 1103)
    })

    test('categories and channels have full CRUD', async () => {
      const cat = await t.admin('POST', '/admin/categories', { id: 'games', name: '게임' })
      assert.equal(cat.statusCode, 201, cat.body)
      assert.deepEqual(cat.json(), { id: 'games', name: '게임', icon_url: '', sort_order: 0 })
      assert.equal(
        (await t.admin('PATCH', '/admin/categories/games', { sort_order: 3 })).json().sort_order,
        3,
      )
      const ch = await t.admin('POST', '/admin/channels', { category: 'games', name: 'Arcade' })
      assert.equal(ch.statusCode, 201, ch.body)
      const chId = ch.json().id
      assert.equal((await t.admin('GET', `/admin/channels/${chId}`)).json().name, 'Arcade')
      assert.ok((await t.admin('GET', '/admin/channels?limit=5')).json().items.length >= 1)
      assert.equal((await t.admin('DELETE', `/admin/channels/${chId}`)).statusCode, 204)
      assert.equal((await t.admin('DELETE', '/admin/categories/games')).statusCode, 204)
    })

    /** Runs `work` on a second connection to the test app's database (rows the admin API cannot make). */
    const withDb = async <T>(work: (db: ReturnType<typeof openDatabase>['db']) => Promise<T>): Promise<T> => {
      const database = openDatabase(parseDatabaseUrl(t.databaseUrl, 1))
      try {
        return await work(database.db)
      } finally {
        await database.close()
      }
    }
    const content = (fields: Record<string, unknown>) =>
      t.admin('POST', '/admin/campaigns', {
        name: 'ref',
        type: 'C',
        start_date: iso(0),
        end_date: iso(Date.UTC(2099, 0, 1)),
        ...fields,
      })
    const deleteIsInUse = async (url: string, message: string) => {
      const res = await t.admin('DELETE', url)
      assert.equal(res.statusCode, 409, `${url}: ${res.body}`)
      assert.deepEqual(res.json(), { code: 1104, error: 'InUse', msg: message })
    }

    test('a unit that campaigns, rewards, postbacks or registrations still name is a 409 InUse listing them', async () => {
      assert.equal((await t.admin('POST', '/admin/units', { id: 1700, app_id: 9 })).statusCode, 201)
      const targeting = []
      for (const target_unit of [['1700'], ['1699', '1700']]) {
        const res = await t.admin('POST', '/admin/campaigns', {
          name: 'to 1700',
          type: 'I',
          start_date: iso(0),
          end_date: iso(Date.UTC(2099, 0, 1)),
          target_unit,
        })
        assert.equal(res.statusCode, 201, res.body)
        targeting.push(res.json().id as number)
      }
      // Not references: another unit in target_unit, the unit in detarget_unit, its id as a category.
      await t.admin('POST', '/admin/campaigns', {
        name: 'elsewhere',
        type: 'I',
        start_date: iso(0),
        end_date: iso(Date.UTC(2099, 0, 1)),
        target_unit: ['17000'],
        detarget_unit: ['1700'],
      })
      await content({ categories: ['1700'] })
      await withDb(async (db) => {
        for (const device_id of [1, 2, 3]) {
          await db
            .insertInto('reward_ledger')
            .values({
              transaction_id: `t-${device_id}`,
              device_id,
              unit_id: 1700,
              campaign_id: 0,
              source_campaign_id: 5,
              action_type: 'u',
              period: '2026-01-01',
              point: 2,
              base_point: 2,
              created_at: 1,
            })
            .execute()
        }
        await db
          .insertInto('device_registrations')
          .values({ device_id: 1, unit_id: 1700, registered_at: 1 })
          .execute()
        for (const ledger_id of [900001, 900002]) {
          await db
            .insertInto('postback_outbox')
            .values({
              ledger_id,
              unit_id: 1700,
              url: 'https://publisher.example/postback',
              headers: '{}',
              body: '',
              status: 'delivered',
              attempts: 1,
              next_attempt_at: 1,
              claim: null,
              last_status: 200,
              last_error: null,
              created_at: 1,
              updated_at: 1,
            })
            .execute()
        }
      })
      await deleteIsInUse(
        '/admin/units/1700',
        'unit 1700 is used by 2 campaigns (target_unit), 3 reward ledger rows, 1 device registration and 2 postback outbox rows',
      )
      assert.equal((await t.admin('GET', '/admin/units/1700')).statusCode, 200, 'the unit is still there')

      for (const id of targeting)
        assert.equal((await t.admin('DELETE', `/admin/campaigns/${id}`)).statusCode, 204)
      await withDb(async (db) => {
        await db.deleteFrom('reward_ledger').where('unit_id', '=', 1700).execute()
        await db.deleteFrom('postback_outbox').where('unit_id', '=', 1700).execute()
      })
      await deleteIsInUse('/admin/units/1700', 'unit 1700 is used by 1 device registration')
      await withDb((db) => db.deleteFrom('device_registrations').where('unit_id', '=', 1700).execute())
      assert.equal((await t.admin('DELETE', '/admin/units/1700')).statusCode, 204)
      assert.equal((await t.admin('GET', '/admin/units/1700')).statusCode, 404)
    })

    test('deleting a unit that does not exist is a 404 even when old rows still carry its id', async () => {
      await withDb((db) =>
        db
          .insertInto('device_registrations')
          .values({ device_id: 1, unit_id: 1799, registered_at: 1 })
          .execute(),
      )
      const res = await t.admin('DELETE', '/admin/units/1799')
      assert.equal(res.statusCode, 404, res.body)
      assert.equal(res.json().code, 1102)
    })

    test('a category that campaigns or channels still use is a 409 InUse listing them', async () => {
      assert.equal(
        (await t.admin('POST', '/admin/categories', { id: 'cooking', name: '요리' })).statusCode,
        201,
      )
      const channel = (await t.admin('POST', '/admin/channels', { category: 'cooking', name: 'Chef' })).json()
      const campaign = (await content({ categories: ['travel', 'cooking'] })).json()
      await content({ categories: ['cooking-show', 'Cooking'] })
      await deleteIsInUse(
        '/admin/categories/cooking',
        'category cooking is used by 1 campaign (categories) and 1 channel',
      )
      assert.equal(
        (await t.admin('PATCH', `/admin/campaigns/${campaign.id}`, { categories: ['travel'] })).statusCode,
        200,
      )
      await deleteIsInUse('/admin/categories/cooking', 'category cooking is used by 1 channel')
      assert.equal((await t.admin('DELETE', `/admin/channels/${channel.id}`)).statusCode, 204)
      assert.equal((await t.admin('DELETE', '/admin/categories/cooking')).statusCode, 204)
    })

    test('a channel that campaigns still use is a 409 InUse listing them', async () => {
      const channel = (await t.admin('POST', '/admin/channels', { category: 'news', name: 'Wire' })).json()
      const ids = []
      for (let i = 0; i < 2; i++) ids.push((await content({ channel_id: channel.id })).json().id as number)
      await deleteIsInUse(
        `/admin/channels/${channel.id}`,
        `channel ${channel.id} is used by 2 campaigns (channel_id)`,
      )
      for (const id of ids) await t.admin('PATCH', `/admin/campaigns/${id}`, { channel_id: null })
      assert.equal((await t.admin('DELETE', `/admin/channels/${channel.id}`)).statusCode, 204)
    })

    test('list paging respects limit and offset', async () => {
      for (let i = 0; i < 3; i++) {
        await t.admin('POST', '/admin/categories', { id: `page-${i}`, name: `p${i}` })
      }
      const all = (await t.admin('GET', '/admin/categories?limit=1000')).json().items
      const page = (await t.admin('GET', '/admin/categories?limit=2&offset=1')).json().items
      assert.deepEqual(page, all.slice(1, 3))
      assert.equal((await t.admin('GET', '/admin/categories?limit=0')).statusCode, 400)
    })

    test('paging and ids are plain decimals: 1e309, hex, exponents, spaces and huge values are 400s, never 500s', async () => {
      for (const query of [
        'limit=1e309',
        'offset=1e309',
        'limit=0x10',
        'offset=1e3',
        'limit=%205%20',
        'limit=true',
        'offset=-1',
        'limit=1001',
      ])
        for (const path of ['/admin/units', '/admin/campaigns', '/admin/postbacks']) {
          const res = await t.admin('GET', `${path}?${query}`)
          assert.equal(res.statusCode, 400, `${path}?${query}: ${res.body}`)
          assert.equal(res.json().code, 1001)
        }
      for (const id of ['1e3', '0x10', '9007199254740993', '99999999999999999999', '-1'])
        for (const path of ['/admin/units', '/admin/campaigns', '/admin/channels', '/admin/devices']) {
          const url = path === '/admin/devices' ? `${path}/${id}/profile` : `${path}/${id}`
          const res = await t.admin('GET', url)
          assert.equal(res.statusCode, 400, `${url}: ${res.body}`)
        }
      assert.equal((await t.admin('GET', '/admin/units?limit=5&offset=0')).statusCode, 200)
    })

    test('campaign URLs must be absolute http(s); non-ASCII and spaces are stored percent-encoded', async () => {
      const base = {
        name: 'urls',
        type: 'I',
        start_date: iso(Date.now()),
        end_date: iso(Date.now() + 86_400_000),
      }
      for (const click_url of [
        'javascript:alert(1)',
        '//evil.test/x',
        'ftp://x.test',
        '/relative',
        'https://a.test/\r\nX: y',
      ])
        for (const field of ['click_url', 'clean_link', 'image']) {
          const res = await t.admin('POST', '/admin/campaigns', { ...base, [field]: click_url })
          assert.equal(res.statusCode, 400, `${field}=${click_url}: ${res.body}`)
          assert.match(res.json().msg, new RegExp(field))
        }
      const ok = await t.admin('POST', '/admin/campaigns', {
        ...base,
        click_url: 'https://shop.test/쿠폰 page?q=동네&ifa={ifa}',
      })
      assert.equal(ok.statusCode, 201, ok.body)
      assert.equal(
        ok.json().click_url,
        'https://shop.test/%EC%BF%A0%ED%8F%B0%20page?q=%EB%8F%99%EB%84%A4&ifa={ifa}',
      )
    })
  })
}
