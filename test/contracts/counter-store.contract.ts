import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CounterStore } from '../../src/services/ports/events.ports.js'

/** The store under test, with the single increment the suite seeds counters with. */
type TestedStore = CounterStore & { increment(key: string, by: number, ttlSeconds?: number): Promise<number> }

/** The behaviour every counter adapter must show, on a clock the suite controls. */
export function counterStoreContract(
  store: () => TestedStore,
  clock: { now(): number; advance(ms: number): void },
): void {
  const key = (name: string) => `${name}:${Math.random().toString(36).slice(2)}`
  const read = async (k: string) => (await store().changedSince(0)).find((c) => c.key === k)?.value ?? 0

  test('a missing counter reads as 0 and increments return the new value', async () => {
    const k = key('a')
    assert.equal(await read(k), 0)
    assert.equal(await store().increment(k, 1), 1)
    assert.equal(await store().increment(k, 4), 5)
    assert.equal(await store().increment(k, -2), 3, 'an undo is an increment by -2')
    assert.equal(await read(k), 3)
  })

  test('concurrent increments are never lost, and each returns a distinct value', async () => {
    const k = key('race')
    const answers = await Promise.all(Array.from({ length: 100 }, () => store().increment(k, 1)))
    assert.equal(await read(k), 100)
    assert.deepEqual(
      [...answers].sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i + 1),
    )
  })

  test('a counter created with a ttl reads 0 after it and restarts on its next increment', async () => {
    const k = key('ttl')
    await store().increment(k, 3, 60)
    assert.equal(await read(k), 3)
    clock.advance(61_000)
    assert.equal(await read(k), 0)
    assert.equal(await store().increment(k, 1, 60), 1)
  })

  test('changedSince returns the counters written at or after an instant, not the others', async () => {
    const old = key('old')
    await store().increment(old, 1)
    clock.advance(10_000)
    const since = clock.now()
    const fresh = key('fresh')
    await store().increment(fresh, 2)
    const changed = await store().changedSince(since)
    assert.ok(changed.some((c) => c.key === fresh && c.value === 2))
    assert.ok(!changed.some((c) => c.key === old), 'not written since')
  })

  test('addMany adds every increment in one call, creating, adding to and restarting expired counters', async () => {
    const [a, b, daily] = [key('many-a'), key('many-b'), key('many-day')]
    await store().increment(a, 5)
    await store().increment(daily, 9, 60)
    clock.advance(61_000)
    await store().addMany([
      { key: a, by: 2 },
      { key: b, by: 3 },
      { key: daily, by: 1, ttlSeconds: 60 },
    ])
    assert.equal(await read(a), 7)
    assert.equal(await read(b), 3)
    assert.equal(await read(daily), 1, 'the expired counter restarted at the increment')
  })

  test('concurrent batches are never lost', async () => {
    const k = key('batches')
    await Promise.all(Array.from({ length: 20 }, () => store().addMany([{ key: k, by: 2 }])))
    assert.equal(await read(k), 40)
  })
}
