import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type CounterStore, createCounterMirror } from '../../src/services/counter-mirror.service.js'

const NOW = Date.UTC(2026, 10, 25, 12)
const quiet = { info() {}, warn() {}, error() {} }

/** A store in memory that remembers when each counter was written (what changedSince reads). */
function fakeStore(clock: () => number) {
  const rows = new Map<string, { value: number; at: number }>()
  let reads = 0
  const store: CounterStore = {
    async increment(key, by) {
      const value = (rows.get(key)?.value ?? 0) + by
      rows.set(key, { value, at: clock() })
      return value
    },
    async changedSince(since) {
      reads++
      return [...rows].filter(([, r]) => r.at >= since).map(([key, r]) => ({ key, value: r.value }))
    },
  }
  return { store, reads: () => reads }
}

function setup() {
  let now = NOW
  const clock = () => now
  // Two processes sharing one store: the mirror belongs to "this" one, `store` is written behind its back.
  const { store } = fakeStore(clock)
  const mirror = createCounterMirror({ counters: store, clock, refreshMs: 1000, logger: quiet })
  return {
    store,
    mirror,
    advance: (ms: number) => {
      now += ms
    },
  }
}

test('increments through the mirror are visible at once, with the store total', async () => {
  const { store, mirror } = setup()
  await store.increment('imp:1', 5)
  assert.equal(mirror.value('imp:1'), 0, 'not refreshed yet')
  assert.equal(await mirror.increment('imp:1', 1), 6)
  assert.equal(mirror.value('imp:1'), 6)
  assert.deepEqual(mirror.totals(1), { impressions: 6, clicks: 0 })
})

test('a refresh picks up what other processes counted, totals and daily counters', async () => {
  const { store, mirror } = setup()
  await store.increment('imp:1', 7)
  await store.increment('clk:1', 2)
  await store.increment('clk:2:20261125', 4)
  await store.increment('clk:2', 9)
  await mirror.refresh()
  assert.equal(mirror.value('imp:1'), 7)
  assert.equal(mirror.value('clk:2:20261125'), 4)
  assert.deepEqual(mirror.totals(1), { impressions: 7, clicks: 2 })
  assert.deepEqual(mirror.totals(2), { impressions: 0, clicks: 9 })
})

test('after the first refresh, a refresh reads only what changed since (with a small overlap)', async () => {
  let now = NOW
  const clock = () => now
  const asked: number[] = []
  const { store } = fakeStore(clock)
  const spy: CounterStore = {
    increment: store.increment,
    changedSince: (since) => {
      asked.push(since)
      return store.changedSince(since)
    },
  }
  const mirror = createCounterMirror({ counters: spy, clock, refreshMs: 1000, logger: quiet })
  await store.increment('imp:1', 1)
  await mirror.refresh()
  now += 60_000
  await store.increment('imp:1', 1)
  await mirror.refresh()
  assert.deepEqual(asked, [0, NOW - 5_000])
  assert.equal(mirror.value('imp:1'), 2)
})

test('daily counters older than two days leave the mirror when the day turns', async () => {
  const { store, mirror, advance } = setup()
  await store.increment('imp:1:20261123', 3)
  await store.increment('imp:1:20261125', 4)
  await mirror.refresh()
  assert.equal(mirror.value('imp:1:20261123'), 3, 'kept until the next day turns')
  advance(86_400_000)
  await mirror.refresh()
  assert.equal(mirror.value('imp:1:20261123'), 0)
  assert.equal(mirror.value('imp:1:20261125'), 4)
})
