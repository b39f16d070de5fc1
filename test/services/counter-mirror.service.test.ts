import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Campaign } from '../../src/domain/catalog.js'
import { campaignDraft } from '../../src/domain/drafts.js'
import { createMemoryCounterRepository } from '../../src/repositories/memory-counter.repository.js'
import { catalogSnapshot } from '../../src/services/catalog.service.js'
import { createCounterMirror } from '../../src/services/counter-mirror.service.js'

const NOW = Date.UTC(2026, 10, 25, 12)
const quiet = { info() {}, warn() {}, error() {} }

function setup() {
  const campaign = (id: number, fields: Partial<Campaign>): Campaign => ({
    ...campaignDraft({ name: 'c', type: 'C', start_date: 0, end_date: NOW * 2 }),
    id,
    created_at: 0,
    updated_at: 0,
    ...fields,
  })
  const campaigns = [
    campaign(1, {}),
    campaign(2, { type: 'J', is_ad: true, budget_type: 'click', budget_daily: 10 }),
    campaign(3, { type: 'I', is_ad: true }),
  ]
  const snapshot = catalogSnapshot({
    version: 1,
    loadedAt: 0,
    units: [],
    campaigns,
    categories: [],
    channels: [],
  })
  // Two processes sharing one store: the mirror belongs to "this" one, `other` increments behind its back.
  const store = createMemoryCounterRepository(() => NOW)
  const mirror = createCounterMirror({
    counters: store,
    catalog: { current: () => snapshot },
    clock: () => NOW,
    refreshMs: 1000,
    logger: quiet,
  })
  return { store, mirror }
}

test('increments through the mirror are visible at once, with the store total', async () => {
  const { store, mirror } = setup()
  await store.increment('imp:1', 5)
  assert.equal(mirror.value('imp:1'), 0, 'not refreshed yet')
  assert.equal(await mirror.increment('imp:1', 1), 6)
  assert.equal(mirror.value('imp:1'), 6)
  assert.deepEqual(mirror.totals(1), { impressions: 6, clicks: 0 })
})

test('a refresh picks up what other processes counted, for contents and budgeted ads only', async () => {
  const { store, mirror } = setup()
  await store.increment('imp:1', 7)
  await store.increment('clk:1', 2)
  await store.increment('clk:2:20261125', 4)
  await store.increment('clk:2', 9)
  await store.increment('imp:3', 100)
  await mirror.refresh()
  assert.equal(mirror.value('imp:1'), 7)
  assert.equal(mirror.value('clk:1'), 2)
  assert.equal(mirror.value('clk:2:20261125'), 4)
  assert.equal(mirror.value('clk:2'), 9)
  assert.equal(mirror.value('imp:3'), 0, 'an ad without a budget is not tracked')
  assert.deepEqual(mirror.totals(1), { impressions: 7, clicks: 2 })
  assert.deepEqual(mirror.totals(2), { impressions: 0, clicks: 9 })
})
