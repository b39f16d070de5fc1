import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import { MockAgent } from 'undici'
import type { AdSource, Unit } from '../../src/domain/catalog.js'
import { unitDraft } from '../../src/domain/drafts.js'
import { createJsonTransport } from '../../src/infra/http/json-transport.js'
import { type AdNetworks, createAdNetworks } from '../../src/services/ad-network.service.js'
import type { UpstreamQuery } from '../../src/services/ports/allocation.ports.js'

const quiet = { info() {}, warn() {}, error() {} }
const source = (name: string, timeout_ms = 80): AdSource => ({
  name,
  url: `http://${name}.test/ads`,
  timeout_ms,
  revenue_type: 'cpm',
})
const unitWith = (...sources: AdSource[]): Unit => ({
  ...unitDraft({ app_id: 1, ad_sources: sources }),
  id: 1001,
  created_at: 0,
  updated_at: 0,
})
const query: UpstreamQuery = { unit_id: 1001, app_id: 1, device_id: 42, country: 'KR', limit: 25 }
const ad = (id: number, ecpm: number) => ({
  id,
  title: `ad ${id}`,
  image: `https://cdn.test/${id}.jpg`,
  click_url: `https://adv.test/${id}`,
  ecpm,
})

describe('upstream ad networks', () => {
  let agent: MockAgent
  let networks: AdNetworks
  beforeEach(() => {
    agent = new MockAgent()
    agent.disableNetConnect()
  })
  afterEach(async () => {
    networks?.close()
    await agent.close()
  })
  const make = (breaker = {}) =>
    (networks = createAdNetworks({
      transport: createJsonTransport(agent),
      deadlineMs: 80,
      logger: quiet,
      breaker,
    }))

  test('breaker states are listed by network once asked, closed while it answers', async () => {
    agent.get('http://alpha.test').intercept({ path: '/ads', method: 'POST' }).reply(200, { ads: [] })
    const networks = make()
    assert.deepEqual([...networks.breakerStates()], [], 'no breaker before the first call')
    await networks.fetchAds(unitWith(source('alpha')), query)
    assert.deepEqual([...networks.breakerStates()], [['alpha', 'closed']])
  })

  test('sources are asked in parallel with the device and unit; their ads merge by eCPM', async () => {
    let asked: unknown
    agent
      .get('http://alpha.test')
      .intercept({ path: '/ads', method: 'POST' })
      .reply(200, (opts) => {
        asked = JSON.parse(String(opts.body))
        return { ads: [ad(1, 0.5), ad(2, 3)] }
      })
    agent
      .get('http://beta.test')
      .intercept({ path: '/ads', method: 'POST' })
      .reply(200, { ads: [ad(7, 1), { id: 8, title: 'no image' }, ad(9, 9)] })
    const ads = await make().fetchAds(unitWith(source('alpha'), source('beta')), query)
    assert.deepEqual(
      ads.map((a) => `${a.source}:${a.external_id}`),
      ['beta:9', 'alpha:2', 'beta:7', 'alpha:1'],
      'malformed ads are dropped',
    )
    assert.deepEqual(asked, query)
  })

  test('a source slower than the deadline is dropped; the others still count, on time', async () => {
    agent
      .get('http://slow.test')
      .intercept({ path: '/ads', method: 'POST' })
      .reply(200, { ads: [ad(1, 9)] })
      .delay(1500)
    agent
      .get('http://fast.test')
      .intercept({ path: '/ads', method: 'POST' })
      .reply(200, { ads: [ad(2, 1)] })
    const started = performance.now()
    const ads = await make().fetchAds(unitWith(source('slow', 1000), source('fast')), query)
    const took = performance.now() - started
    assert.deepEqual(
      ads.map((a) => a.source),
      ['fast'],
    )
    assert.ok(took < 700, `answered after ${took.toFixed(0)} ms: the deadline (80 ms) cut the 1.5 s source`)
  })

  test("a source's own shorter timeout applies", async () => {
    agent
      .get('http://tight.test')
      .intercept({ path: '/ads', method: 'POST' })
      .reply(200, { ads: [ad(1, 1)] })
      .delay(50)
    assert.deepEqual(await make().fetchAds(unitWith(source('tight', 10)), query), [])
  })

  test('a failing source opens its circuit: it is not called again until the reset time', async () => {
    let calls = 0
    agent
      .get('http://broken.test')
      .intercept({ path: '/ads', method: 'POST' })
      .reply(() => {
        calls++
        return { statusCode: 500, data: 'down' }
      })
      .persist()
    const networks = make({ volumeThreshold: 3, resetTimeoutMs: 200 })
    const unit = unitWith(source('broken'))
    for (let i = 0; i < 10; i++) assert.deepEqual(await networks.fetchAds(unit, query), [])
    assert.ok(networks.isOpen(source('broken')), 'the circuit is open')
    assert.deepEqual([...networks.breakerStates()], [['broken', 'open']])
    assert.ok(calls <= 4, `the source was called ${calls} times for 10 allocations`)
    const whileOpen = calls
    await networks.fetchAds(unit, query)
    assert.equal(calls, whileOpen, 'no call while open')
    // The breaker half-opens on its own timer: wait for that, not for a guessed time.
    for (let i = 0; i < 200 && networks.isOpen(source('broken')); i++)
      await new Promise((r) => setImmediate(r))
    for (let i = 0; i < 100 && networks.isOpen(source('broken')); i++)
      await new Promise((r) => setTimeout(r, 10))
    assert.equal(networks.isOpen(source('broken')), false, 'half-open after the reset time')
    assert.deepEqual([...networks.breakerStates()], [['broken', 'half_open']])
    await networks.fetchAds(unit, query)
    assert.equal(calls, whileOpen + 1, 'one trial call once the reset time passed')
  })

  test('an answer that is not {"ads": [...]} counts as a failure and yields nothing', async () => {
    agent.get('http://odd.test').intercept({ path: '/ads', method: 'POST' }).reply(200, { banners: [] })
    assert.deepEqual(await make().fetchAds(unitWith(source('odd')), query), [])
  })
})
