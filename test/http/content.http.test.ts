import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { parseDatabaseUrl } from '../../src/config/config.js'
import { openDatabase } from '../../src/infra/database/database.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { form, startTestApp, type TestApp } from '../helpers/test-app.js'

for (const backend of await sqlBackends()) {
  describe(`content endpoints on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp(await backend.createDatabaseUrl(), { seed: true })
    })
    after(async () => {
      await t?.close()
      await backend.cleanup()
    })

    const config = async (deviceId: number) =>
      (await t.app.inject({ method: 'GET', url: `/api/content/config/?device_id=${deviceId}` })).json()
    const change = (fields: Record<string, string | number | boolean>) =>
      t.app.inject({
        method: 'POST',
        url: '/api/content/config/',
        payload: form(fields as Record<string, string | number>),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
    test('categories come in sort order and channels filter by category', async () => {
      const categories = (await t.app.inject({ method: 'GET', url: '/api/content/categories/' })).json()
        .categories
      assert.deepEqual(
        categories.map((c: { id: string }) => c.id),
        ['news', 'entertainment', 'sports', 'lifestyle', 'tech'],
      )
      const news = (await t.app.inject({ method: 'GET', url: '/api/content/channels?category=news' })).json()
        .channels
      assert.equal(news.length, 2)
      assert.ok(news.every((c: { category: string }) => c.category === 'news'))
      const all = (await t.app.inject({ method: 'GET', url: '/api/content/channels/' })).json().channels
      assert.equal(all.length, 6)
    })

    test('a device without a config reads the defaults and reading creates no row', async () => {
      assert.deepEqual((await config(555)).config, {
        device_id: 555,
        category: [],
        channel: [],
        campaign: [],
      })
      const database = openDatabase(parseDatabaseUrl(t.databaseUrl, 1))
      try {
        const rows = await database.db.selectFrom('device_content_configs').select('device_id').execute()
        assert.ok(!rows.some((r) => Number(r.device_id) === 555), 'no row for a device that only read')
      } finally {
        await database.close()
      }
    })

    test('concurrent toggles of one device are all kept', async () => {
      const ids = ['news', 'entertainment', 'sports', 'lifestyle', 'tech']
      const results = await Promise.all(
        ids.map((id) => change({ device_id: 800, type: 'category', id, enabled: 'false' })),
      )
      assert.ok(results.every((r) => r.statusCode === 200))
      assert.deepEqual([...(await config(800)).config.category].sort(), [...ids].sort())
    })

    test('bad content config input is a 400 naming the field', async () => {
      const cases: [Record<string, string | number>, RegExp][] = [
        [{ device_id: 1, type: 'genre', id: 'news', enabled: 'false' }, /type must be one of/],
        [
          { device_id: 1, type: 'category', id: 'cooking', enabled: 'false' },
          /id 'cooking' is not a known category/,
        ],
        [{ device_id: 1, type: 'category', id: 'news' }, /enabled is required/],
        [{ type: 'category', id: 'news', enabled: 'false' }, /device_id is required/],
      ]
      for (const [fields, msg] of cases) {
        const res = await change(fields)
        assert.equal(res.statusCode, 400, res.body)
        assert.match(res.json().msg, msg)
      }
      const get = await t.app.inject({ method: 'GET', url: '/api/content/config/?device_id=abc' })
      assert.equal(get.statusCode, 400)
      assert.match(get.json().msg, /querystring.device_id/)
    })
  })
}
