import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MockAgent } from 'undici'
import type { LiveDto } from '../../src/http/dto/live.dto.js'
import { demoPhone } from '../helpers/sdk.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { demoAllocationFields, form, startTestApp, type TestApp } from '../helpers/test-app.js'

const PUBLISHER = 'http://publisher.test'

for (const backend of await sqlBackends()) {
  describe(`the dashboard's live figures (GET /admin/live, /metrics) on ${backend.name}`, {
    skip: backend.skip,
  }, () => {
    let t: TestApp
    const agent = new MockAgent()
    before(async () => {
      agent.disableNetConnect()
      // The publisher is down: a reward's postback stays pending (retried in a minute).
      agent.get(PUBLISHER).intercept({ path: '/pb', method: 'POST' }).reply(500, 'down').persist()
      agent.get('http://flaky.test').intercept({ path: '/ads', method: 'POST' }).reply(503, 'busy').persist()
      t = await startTestApp(await backend.createDatabaseUrl(), {
        seed: true,
        dispatcher: agent,
        env: { POSTBACK_POLL_MS: '600000' },
      })
    })
    after(async () => {
      await t?.close()
      await agent.close()
      await backend.cleanup()
    })

    const live = async (): Promise<LiveDto> => {
      const res = await t.admin('GET', '/admin/live')
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.headers['cache-control'], 'no-store')
      return res.json()
    }
    const allocate = (device: number, fields: Record<string, string | number> = {}) =>
      t.app.inject({
        method: 'POST',
        url: '/api/allocation/',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form({ ...demoAllocationFields(device), ...fields }),
      })
    const count = (s: LiveDto, status: string) =>
      s.allocation.requests
        .filter((r) => r.route === '/api/allocation/' && r.status === status)
        .reduce((n, r) => n + r.count, 0)

    test('it takes the admin token', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/admin/live' })
      assert.equal(res.statusCode, 401)
    })

    test('allocations move the request counts, the latency histogram, fill and the device cache', async () => {
      const before = await live()
      for (const device of [42, 42, 42, 43]) assert.equal((await allocate(device)).statusCode, 200)
      assert.equal((await allocate(44, { unit_id: 'x' })).statusCode, 400)
      const after = await live()
      assert.ok(Date.parse(after.at) >= Date.parse(before.at))
      assert.equal(count(after, '200') - count(before, '200'), 4)
      assert.equal(count(after, '400') - count(before, '400'), 1)
      const total = (s: LiveDto) => s.allocation.latency.counts.reduce((a, b) => a + b, 0)
      assert.equal(total(after) - total(before), 5, 'every allocation request is in the histogram')
      assert.equal(after.allocation.latency.counts.length, after.allocation.latency.bounds_ms.length + 1)
      assert.deepEqual(after.allocation.latency.bounds_ms, [1, 2.5, 5, 10, 25, 50, 100, 250, 1000])
      assert.equal(after.allocation.answers.filled - before.allocation.answers.filled, 4)
      assert.equal(after.allocation.answers.empty - before.allocation.answers.empty, 0)
      // Device 42: a miss, then two hits; device 43: a miss.
      assert.equal(after.device_cache.hits - before.device_cache.hits, 2)
      assert.equal(after.device_cache.misses - before.device_cache.misses, 2)
      assert.ok(after.device_cache.entries >= 2)
    })

    test('an answer without items counts as empty (an SDK too old for ads, on a unit without contents)', async () => {
      const unit = await t.admin('POST', '/admin/units', { id: 3003, app_id: 33, content_type: 'none' })
      assert.equal(unit.statusCode, 201, unit.body)
      const before = await live()
      assert.equal((await allocate(45, { unit_id: 3003, app_id: 33, sdk_version: 1400 })).statusCode, 200)
      const after = await live()
      assert.equal(after.allocation.answers.empty - before.allocation.answers.empty, 1)
      assert.equal(after.allocation.answers.filled, before.allocation.answers.filled)
    })

    test('a postback the publisher does not take shows as pending, with the age of the oldest', async () => {
      assert.deepEqual((await live()).postbacks, { pending: 0, failed: 0, oldest_pending_age_seconds: null })
      const unit = await t.admin('PATCH', '/admin/units/1001', { postback_url: `${PUBLISHER}/pb` })
      assert.equal(unit.statusCode, 200, unit.body)
      const phone = demoPhone(t, 77)
      const items = await phone.pool()
      const ad = items.find((i) => i.is_ad && i.unlock_reward > 0) ?? items.find((i) => i.is_ad)
      assert.ok(ad, 'an ad to unlock through')
      const unlocked = await phone.unlock(ad)
      assert.equal(unlocked.statusCode, 200, unlocked.body)
      const { postbacks } = await live()
      assert.ok(postbacks)
      assert.equal(postbacks.pending, 1)
      assert.equal(postbacks.failed, 0)
      assert.ok(postbacks.oldest_pending_age_seconds !== null && postbacks.oldest_pending_age_seconds >= 0)
      const metrics = (await t.ops.inject({ method: 'GET', url: '/metrics' })).body
      assert.match(metrics, /^allot_postbacks\{state="pending"\} 1$/m)
      assert.match(metrics, /^allot_postbacks\{state="failed"\} 0$/m)
      assert.match(metrics, /^allot_postback_oldest_pending_age_seconds \d/m)
    })

    test('an upstream network that keeps failing shows its breaker open, in /admin/live and /metrics', async () => {
      const unit = await t.admin('PATCH', '/admin/units/1001', {
        ad_sources: [{ name: 'flaky', url: 'http://flaky.test/ads', timeout_ms: 80, revenue_type: 'cpm' }],
      })
      assert.equal(unit.statusCode, 200, unit.body)
      for (let i = 0; i < 8; i++) assert.equal((await allocate(100 + i)).statusCode, 200)
      assert.deepEqual((await live()).upstream, [{ network: 'flaky', state: 'open' }])
      const metrics = (await t.ops.inject({ method: 'GET', url: '/metrics' })).body
      assert.match(metrics, /^allot_upstream_breaker_state\{network="flaky"\} 2$/m)
    })

    test('alone, the process is the whole fleet: one instance, its figures the sum', async () => {
      const { fleet, allocation } = await live()
      assert.equal(fleet.partial, false)
      assert.equal(fleet.total.instances, 1)
      assert.equal(fleet.instances.length, 1)
      const [self] = fleet.instances
      assert.equal(self?.instance_id, fleet.self)
      const total = allocation.requests.reduce((n, r) => n + r.count, 0)
      assert.equal(self?.requests_total, total)
      assert.equal(fleet.total.requests_total, total)
      assert.deepEqual(fleet.total.upstream, [{ network: 'flaky', state: 'open' }])
      assert.equal(fleet.period_ms, 1000)
    })

    test('/metrics carries the counters the live figures are read from', async () => {
      const metrics = (await t.ops.inject({ method: 'GET', url: '/metrics' })).body
      const { allocation, device_cache } = await live()
      const value = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1])
      assert.equal(value(/^allot_allocations_total\{result="filled"\} (\d+)$/m), allocation.answers.filled)
      assert.equal(value(/^allot_allocations_total\{result="empty"\} (\d+)$/m), allocation.answers.empty)
      assert.equal(value(/^allot_device_cache_lookups_total\{result="hit"\} (\d+)$/m), device_cache.hits)
      assert.equal(value(/^allot_device_cache_lookups_total\{result="miss"\} (\d+)$/m), device_cache.misses)
    })
  })
}
