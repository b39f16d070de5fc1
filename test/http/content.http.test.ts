import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { parseDatabaseUrl } from '../../src/config/config.js'
import { openDatabase } from '../../src/infra/database/database.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { allocateDemo, form, startTestApp, type TestApp } from '../helpers/test-app.js'
import {
  AllotCategories,
  AllotErrorBody,
  assertWire,
  V1Channels,
  V1ContentConfig,
  V1ContentConfigSaved,
  V1UnsupportedConfigType,
} from '../helpers/v1-wire.js'

type Channel = { id: number; category: string; icon_url: string; name: string }

for (const backend of await sqlBackends()) {
  describe(`content settings (docs/architecture.md §W10, §W11) on ${backend.name}`, {
    skip: backend.skip,
  }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp(await backend.createDatabaseUrl(), { seed: true })
    })
    after(async () => {
      await t?.close()
      await backend.cleanup()
    })

    const get = (url: string) => t.app.inject({ method: 'GET', url })
    /** Reads a device's config, asserting a 200 of the v1 shape. */
    const readConfig = async (deviceId: number) => {
      const res = await get(`/api/content/config/?device_id=${deviceId}`)
      assert.equal(res.statusCode, 200, res.body)
      assertWire(V1ContentConfig, res.json(), 'GET /api/content/config/')
      return res.json() as { device_id: number; channel: string; category: string; campaign: string }
    }
    /** A form-encoded POST as the v1 SDK sends it. */
    const store = (fields: Record<string, string | number>) =>
      t.app.inject({
        method: 'POST',
        url: '/api/content/config/',
        payload: form(fields),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
    const storeOk = async (fields: Record<string, string | number>) => {
      const res = await store(fields)
      assert.equal(res.statusCode, 200, res.body)
      assertWire(V1ContentConfigSaved, res.json(), 'POST /api/content/config/')
    }
    const rowsOf = async (deviceId: number) => {
      const database = openDatabase(parseDatabaseUrl(t.databaseUrl, 1))
      try {
        return await database.db
          .selectFrom('device_content_configs')
          .selectAll()
          .where('device_id', '=', deviceId)
          .execute()
      } finally {
        await database.close()
      }
    }

    test('a device that never stored a config reads three empty strings, and reading writes no row', async () => {
      const config = await readConfig(555)
      assert.deepEqual(config, { status: 'success', device_id: 555, channel: '', category: '', campaign: '' })
      assert.deepEqual(Object.keys(config), ['status', 'device_id', 'channel', 'category', 'campaign'])
      assert.deepEqual(await rowsOf(555), [])
    })

    test('each config type is stored verbatim and read back; the types never touch each other', async () => {
      const channel = '{"follow": "1,2,", "unfollow": "3"}'
      await storeOk({ device_id: 600, type: 'channel', config: channel })
      assert.deepEqual(await readConfig(600), {
        status: 'success',
        device_id: 600,
        channel,
        category: '',
        campaign: '',
      })
      // Characters the form encoding must carry through: +, &, =, %, spaces, Korean, 4-byte UTF-8.
      const category = 'news, sports & 연예 = 100% +🎉'
      await storeOk({ device_id: 600, type: 'category', config: category })
      await storeOk({ device_id: 600, type: 'campaign', config: '[12,34]' })
      assert.deepEqual(await readConfig(600), {
        status: 'success',
        device_id: 600,
        channel,
        category,
        campaign: '[12,34]',
      })
      await storeOk({ device_id: 600, type: 'category', config: 'tech' })
      assert.equal((await readConfig(600)).category, 'tech', 'a second store replaces the first')
      assert.equal((await readConfig(600)).channel, channel)
      assert.equal((await readConfig(601)).category, '', 'other devices unaffected')
    })

    test('an empty config is stored as the empty string and clears what was there', async () => {
      await storeOk({ device_id: 610, type: 'campaign', config: '[1]' })
      await storeOk({ device_id: 610, type: 'campaign', config: '' })
      assert.equal((await readConfig(610)).campaign, '')
      await storeOk({ device_id: 611, type: 'channel', config: '' })
      assert.equal((await rowsOf(611)).length, 1, 'an empty store still creates the row')
    })

    test('concurrent stores of different types for one device are all kept', async () => {
      const results = await Promise.all([
        store({ device_id: 620, type: 'category', config: 'a' }),
        store({ device_id: 620, type: 'channel', config: 'b' }),
        store({ device_id: 620, type: 'campaign', config: 'c' }),
      ])
      assert.deepEqual(
        results.map((r) => r.statusCode),
        [200, 200, 200],
      )
      const config = await readConfig(620)
      assert.deepEqual([config.category, config.channel, config.campaign], ['a', 'b', 'c'])
    })

    test('an unsupported type is a 400 "Unsupported config type" and stores nothing', async () => {
      for (const type of ['genre', 'Category', 'channels']) {
        const res = await store({ device_id: 630, type, config: 'x' })
        assert.equal(res.statusCode, 400, res.body)
        assertWire(V1UnsupportedConfigType, res.json(), `type=${type}`)
        assertWire(AllotErrorBody, res.json())
        assert.equal(res.json().code, 1006)
      }
      assert.deepEqual(await rowsOf(630), [])
    })

    test('a missing, zero or non-numeric field is a 400 naming it', async () => {
      const cases: [Record<string, string | number>, RegExp][] = [
        [{ type: 'category', config: 'x' }, /body\.device_id is required/],
        [{ device_id: 640, config: 'x' }, /body\.type is required/],
        [{ device_id: 640, type: 'category' }, /body\.config is required/],
        [{ device_id: 0, type: 'category', config: 'x' }, /body\.device_id/],
        [{ device_id: 'abc', type: 'category', config: 'x' }, /body\.device_id/],
        [{ device_id: 640, type: '', config: 'x' }, /body\.type/],
      ]
      for (const [fields, msg] of cases) {
        const res = await store(fields)
        assert.equal(res.statusCode, 400, `${JSON.stringify(fields)} → ${res.body}`)
        assertWire(AllotErrorBody, res.json())
        assert.equal(res.json().error, 'InvalidField')
        assert.match(res.json().msg, msg)
      }
      assert.deepEqual(await rowsOf(640), [])
      for (const [url, msg] of [
        ['/api/content/config/', /querystring\.device_id is required/],
        ['/api/content/config/?device_id=0', /querystring\.device_id/],
        ['/api/content/config/?device_id=abc', /querystring\.device_id/],
      ] as const) {
        const res = await get(url)
        assert.equal(res.statusCode, 400, `${url} → ${res.body}`)
        assert.match(res.json().msg, msg)
      }
    })

    test('a config of up to 8 KiB of UTF-8 is kept; one byte more is a 400', async () => {
      const exact = `${'가'.repeat(2730)}ab` // 2730 × 3 + 2 = 8192 bytes
      assert.equal(Buffer.byteLength(exact), 8192)
      await storeOk({ device_id: 650, type: 'channel', config: exact })
      assert.equal((await readConfig(650)).channel, exact)
      const res = await store({ device_id: 650, type: 'channel', config: `${exact}c` })
      assert.equal(res.statusCode, 400, res.body)
      assert.match(res.json().msg, /body\.config is 8193 bytes/)
      assert.equal((await readConfig(650)).channel, exact, 'the refused one changed nothing')
    })

    test('the paths answer without their trailing slash too', async () => {
      await storeOk({ device_id: 660, type: 'category', config: 'news' })
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/content/config',
        payload: form({ device_id: 660, type: 'campaign', config: '7' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
      assert.equal(res.statusCode, 200, res.body)
      const read = await get('/api/content/config?device_id=660')
      assertWire(V1ContentConfig, read.json())
      assert.equal(read.json().campaign, '7')
      assert.equal((await get('/api/content/channels?ids=1')).statusCode, 200)
      assert.equal((await get('/api/content/categories')).statusCode, 200)
    })

    test('a stored config does not change allocation (the SDK sends its filters itself)', async () => {
      await storeOk({ device_id: 670, type: 'category', config: 'news' })
      await storeOk({ device_id: 670, type: 'channel', config: '{"follow": "1,2,"}' })
      const items = await allocateDemo(t, 670)
      assert.ok(
        items.some((i) => !i.is_ad),
        'contents are still allocated',
      )
    })

    const seededChannels = async (): Promise<Channel[]> =>
      (await t.admin('GET', '/admin/channels?limit=1000')).json().items

    test('channels answer keyed by their id as a string; unknown ids are absent', async () => {
      const created = await t.admin('POST', '/admin/channels', {
        category: 'news',
        name: '연합뉴스',
        icon_url: 'https://cdn.example.com/yna.png',
      })
      assert.equal(created.statusCode, 201, created.body)
      const mine: Channel = created.json()
      const [first] = await seededChannels()
      assert.ok(first)
      const res = await get(`/api/content/channels/?ids=${first.id},${mine.id},999999`)
      assert.equal(res.statusCode, 200, res.body)
      assertWire(V1Channels, res.json(), 'GET /api/content/channels/')
      const { channels } = res.json() as { channels: Record<string, Channel> }
      assert.deepEqual(Object.keys(channels).sort(), [String(first.id), String(mine.id)].sort())
      assert.deepEqual(channels[String(mine.id)], {
        id: mine.id,
        category: 'news',
        icon_url: 'https://cdn.example.com/yna.png',
        name: '연합뉴스',
      })
      assert.deepEqual(channels[String(first.id)], first)
      const none = await get('/api/content/channels/?ids=999998,999999')
      assertWire(V1Channels, none.json())
      assert.deepEqual(none.json(), { status: 'success', channels: {} })
    })

    test('channel ids may repeat, carry spaces or end with a comma', async () => {
      const [a, b] = await seededChannels()
      assert.ok(a && b)
      const res = await get(`/api/content/channels/?ids=${a.id},%20${b.id}%20,${a.id},`)
      assert.equal(res.statusCode, 200, res.body)
      assertWire(V1Channels, res.json())
      assert.deepEqual(Object.keys(res.json().channels).sort(), [String(a.id), String(b.id)].sort())
    })

    test('channels without ids, or with an id that is not an integer, are a 400 naming ids', async () => {
      for (const [url, msg] of [
        ['/api/content/channels/', /querystring\.ids is required/],
        ['/api/content/channels/?ids=', /querystring\.ids/],
        ['/api/content/channels/?ids=,', /querystring\.ids names no channel id/],
        ['/api/content/channels/?ids=1,news', /querystring\.ids: 'news' is not an integer id/],
        ['/api/content/channels/?ids=1.5', /querystring\.ids: '1\.5' is not an integer id/],
        ['/api/content/channels/?ids=99999999999999999', /querystring\.ids/],
      ] as const) {
        const res = await get(url)
        assert.equal(res.statusCode, 400, `${url} → ${res.body}`)
        assertWire(AllotErrorBody, res.json())
        assert.equal(res.json().code, 1001)
        assert.match(res.json().msg, msg)
      }
    })

    test('categories come in sort order with id, name, icon_url and sort_order', async () => {
      const res = await get('/api/content/categories/')
      assert.equal(res.statusCode, 200, res.body)
      assertWire(AllotCategories, res.json(), 'GET /api/content/categories/')
      const { categories } = res.json() as { categories: { id: string; sort_order: number }[] }
      assert.deepEqual(
        categories.map((c) => c.id),
        ['news', 'entertainment', 'sports', 'lifestyle', 'tech'],
      )
      const orders = categories.map((c) => c.sort_order)
      assert.deepEqual(
        orders,
        [...orders].sort((x, y) => x - y),
      )
      const last = await t.admin('PATCH', '/admin/categories/news', { sort_order: 1000 })
      assert.equal(last.statusCode, 200, last.body)
      const after = (await get('/api/content/categories/')).json().categories
      assert.equal(after.at(-1).id, 'news', 'an admin change is answered at once')
    })
  })
}
