import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MockAgent } from 'undici'
import { sqlBackends } from '../helpers/sql-backends.js'
import { type AllocatedItemView, allocateDemo, startTestApp, type TestApp } from '../helpers/test-app.js'

for (const backend of await sqlBackends()) {
  describe(`allocation with upstream ad networks on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp
    const agent = new MockAgent()
    before(async () => {
      agent.disableNetConnect()
      t = await startTestApp(await backend.createDatabaseUrl(), { seed: true, dispatcher: agent })
    })
    after(async () => {
      await t?.close()
      await agent.close()
      await backend.cleanup()
    })
    const allocate = (device: number) => allocateDemo(t, device)

    test('upstream ads follow the local ads; a failing source leaves a normal pool with contents', async () => {
      const patched = await t.admin('PATCH', '/admin/units/1001', {
        ad_sources: [
          { name: 'netA', url: 'http://neta.test/ads', timeout_ms: 80, revenue_type: 'cpc' },
          { name: 'netB', url: 'http://netb.test/ads', timeout_ms: 80, revenue_type: 'cpm' },
        ],
      })
      assert.equal(patched.statusCode, 200, patched.body)
      assert.equal(patched.json().ad_sources.length, 2)
      agent
        .get('http://neta.test')
        .intercept({ path: '/ads', method: 'POST' })
        .reply(200, {
          ads: [
            {
              id: 'x1',
              title: 'Upstream!',
              image: 'https://cdn.test/x1.jpg',
              click_url: 'https://a.test',
              ecpm: 2,
            },
          ],
        })
      agent.get('http://netb.test').intercept({ path: '/ads', method: 'POST' }).reply(503, 'busy')

      const items = await allocate(5)
      const upstream = items.filter((i) => i.id > 2_000_000_000)
      assert.deepEqual(
        upstream.map((i) => [i.name, i.type, i.is_ad]),
        [['Upstream!', 'J', true]],
      )
      const firstUpstream = items.findIndex((i) => i.id > 2_000_000_000)
      assert.ok(
        items.slice(0, firstUpstream).every((i) => i.is_ad && i.id < 2_000_000_000),
        'local ads come first',
      )
      assert.ok(
        items.slice(firstUpstream + 1).every((i) => !i.is_ad),
        'then contents',
      )
      assert.ok(items.some((i) => !i.is_ad))

      // Both sources fail now: the pool is the local one, contents included.
      agent
        .get('http://neta.test')
        .intercept({ path: '/ads', method: 'POST' })
        .replyWithError(new Error('reset'))
      agent.get('http://netb.test').intercept({ path: '/ads', method: 'POST' }).reply(500, 'down')
      const fallback = await allocate(6)
      assert.ok(fallback.every((i) => i.id < 2_000_000_000))
      assert.ok(fallback.some((i) => i.is_ad) && fallback.some((i) => !i.is_ad))

      // Display-only: no rewards, their own click URL, and Allot's beacon refuses their payload.
      const [ad] = upstream as (AllocatedItemView & { click_url: string; base_reward: number })[]
      assert.equal(ad?.click_url, 'https://a.test')
      assert.equal(ad?.base_reward, 0)
      const beacon = await t.app.inject({
        method: 'GET',
        url: `/api/content_impression/?data=${encodeURIComponent(ad?.payload ?? '')}`,
      })
      assert.equal(beacon.statusCode, 400, 'upstream ads are display-only: no events through Allot')
    })

    test('invalid ad sources are refused by the admin API', async () => {
      const res = await t.admin('PATCH', '/admin/units/1001', {
        ad_sources: [{ name: 'x', url: 'ftp://nope', timeout_ms: 80, revenue_type: 'cpm' }],
      })
      assert.equal(res.statusCode, 400)
      assert.match(res.json().msg, /url/)
    })
  })
}
