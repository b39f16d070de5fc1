import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CounterStore } from '../../src/services/device-data.ports.js'

/** The behaviour every counter adapter must show; `advance` moves the adapter's clock (or waits). */
export function counterStoreContract(
  store: () => CounterStore,
  advance: (ms: number) => Promise<void>,
): void {
  const key = (name: string) => `${name}:${Math.random().toString(36).slice(2)}`

  test('a missing counter reads as 0 and increments return the new value', async () => {
    const k = key('a')
    assert.deepEqual(await store().read([k]), [0])
    assert.equal(await store().increment(k, 1), 1)
    assert.equal(await store().increment(k, 4), 5)
    assert.deepEqual(await store().read([k, key('missing')]), [5, 0])
  })

  test('concurrent increments are never lost', async () => {
    const k = key('race')
    await Promise.all(Array.from({ length: 200 }, () => store().increment(k, 1)))
    assert.deepEqual(await store().read([k]), [200])
  })

  test('a counter created with a ttl disappears after it', async () => {
    const k = key('ttl')
    await store().increment(k, 3, 1)
    assert.deepEqual(await store().read([k]), [3])
    await advance(1_100)
    assert.deepEqual(await store().read([k]), [0])
  })
}
