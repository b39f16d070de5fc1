import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createCounterMirror } from '../../src/services/counter-mirror.service.js'
import type { CounterStore } from '../../src/services/ports/events.ports.js'
import { createManualScheduler } from '../helpers/manual-timers.js'

const NOW = Date.UTC(2026, 10, 25, 12)

/** A store in memory that remembers when each counter was written (what changedSince reads). */
function fakeStore(clock: () => number) {
  const rows = new Map<string, { value: number; at: number }>()
  let reads = 0
  let writes = 0
  const add = (key: string, by: number) => {
    const value = (rows.get(key)?.value ?? 0) + by
    rows.set(key, { value, at: clock() })
  }
  const store: CounterStore & { increment(key: string, by: number): Promise<void> } = {
    async increment(key, by) {
      add(key, by)
    },
    async addMany(increments) {
      writes++
      for (const i of increments) add(i.key, i.by)
    },
    async changedSince(since) {
      reads++
      return [...rows].filter(([, r]) => r.at >= since).map(([key, r]) => ({ key, value: r.value }))
    },
  }
  return {
    store,
    reads: () => reads,
    writes: () => writes,
    stored: (key: string) => rows.get(key)?.value ?? 0,
  }
}

function setup() {
  const { scheduler, clock, advance, errors } = createManualScheduler(NOW)
  // Two processes sharing one store: the mirror belongs to "this" one, `store` is written behind its back.
  const { store, reads, writes, stored } = fakeStore(clock)
  const mirror = createCounterMirror({ counters: store, clock, refreshMs: 1000, flushMs: 5000, scheduler })
  return { store, reads, writes, stored, mirror, advance, errors }
}

test('increments through the mirror count at once here, and reach the store with the next flush, in one write', async () => {
  const { store, mirror, writes, stored, advance } = setup()
  await store.increment('imp:1', 5)
  await mirror.refresh()
  mirror.add('imp:1', 1)
  mirror.add('imp:1', 1)
  mirror.add('clk:1', 1)
  assert.equal(mirror.value('imp:1'), 7, 'at once, with what the store had')
  assert.deepEqual(mirror.totals(1), { impressions: 7, clicks: 1 })
  assert.equal(stored('imp:1'), 5, 'not written yet')
  mirror.start()
  await advance(5000)
  assert.equal(stored('imp:1'), 7)
  assert.equal(writes(), 1, 'one write for every increment of the interval')
  assert.equal(mirror.value('imp:1'), 7, 'nothing counted twice after the flush')
  await mirror.refresh()
  assert.equal(mirror.value('imp:1'), 7, 'nor after the next refresh')
  await mirror.stop()
})

test('a failed flush keeps its increments for the next one; stop flushes what is left', async () => {
  const { store, mirror, stored, advance, errors } = setup()
  const working = store.addMany
  store.addMany = async () => {
    throw new Error('database down')
  }
  mirror.start()
  mirror.add('imp:2', 3)
  await advance(5000)
  assert.deepEqual(errors, [['counter flush', 'database down']])
  mirror.add('imp:2', 1)
  assert.equal(mirror.value('imp:2'), 4)
  store.addMany = working
  await mirror.stop()
  assert.equal(stored('imp:2'), 4, 'written once, whole')
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
    addMany: store.addMany,
    changedSince: (since) => {
      asked.push(since)
      return store.changedSince(since)
    },
  }
  const mirror = createCounterMirror({
    counters: spy,
    clock,
    refreshMs: 1000,
    flushMs: 5000,
    scheduler: createManualScheduler(NOW).scheduler,
  })
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
  await advance(86_400_000)
  await mirror.refresh()
  assert.equal(mirror.value('imp:1:20261123'), 0)
  assert.equal(mirror.value('imp:1:20261125'), 4)
})

test('started, the mirror refreshes every refreshMs; a failed refresh is reported and keeps the values', async () => {
  const { store, reads, mirror, advance, errors } = setup()
  const working = { ...store }
  mirror.start()
  await store.increment('imp:1', 3)
  await advance(999)
  assert.equal(mirror.value('imp:1'), 0, 'not yet')
  await advance(1)
  assert.equal(mirror.value('imp:1'), 3)
  store.changedSince = async () => {
    throw new Error('database down')
  }
  await store.increment('imp:1', 1)
  await advance(1000)
  assert.equal(mirror.value('imp:1'), 3, 'the previous value is kept')
  assert.deepEqual(errors, [['counter refresh', 'database down']])
  store.changedSince = working.changedSince
  await advance(1000)
  assert.equal(mirror.value('imp:1'), 4, 'the next refresh catches up')
  await mirror.stop()
  const before = reads()
  await advance(10_000)
  assert.equal(reads(), before, 'no refresh after stop')
})
