import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { InstanceFigures } from '../../src/domain/fleet.js'
import type { FleetStore } from '../../src/services/fleet.service.js'

/** One instance's figures at `at`, with every field set (postbacks, breakers, a histogram). */
export function figures(
  instanceId: string,
  at: number,
  fields: Partial<InstanceFigures> = {},
): InstanceFigures {
  return {
    instanceId,
    at,
    windowMs: 10_000,
    requests: 120,
    errors: 1,
    requestsTotal: 5_000,
    latency: { boundsMs: [1, 2.5, 5, 10], counts: [50, 40, 20, 9, 1] },
    filled: 110,
    empty: 9,
    cacheHits: 90,
    cacheMisses: 30,
    cacheEntries: 812,
    postbacks: { pending: 3, failed: 1, oldestPendingAgeSeconds: 42.5 },
    upstream: [{ network: 'flaky', state: 'half_open' }],
    ...fields,
  }
}

const byId = (list: InstanceFigures[]) => [...list].sort((a, b) => a.instanceId.localeCompare(b.instanceId))

/**
 * The behaviour every fleet store must show; call inside a describe() per adapter. Tests share one store:
 * each works at a later time than the ones before, so their entries have expired by then.
 */
export function fleetStoreContract(store: () => FleetStore): void {
  const HOUR = 3_600_000
  let base = Date.UTC(2026, 11, 4)
  const later = () => {
    base += HOUR
    return base
  }

  test('saved figures read back whole until they expire, then not at all', async () => {
    const t = later()
    const saved = figures('host-a:101:0a0b', t, { postbacks: null, upstream: [] })
    await store().save(saved, t + 5_000)
    assert.deepEqual(await store().list(t), [saved])
    assert.deepEqual(await store().list(t + 4_999), [saved])
    assert.deepEqual(await store().list(t + 5_000), [], 'expired at expiresAt')
  })

  test("an instance's later figures replace its earlier ones", async () => {
    const t = later()
    await store().save(figures('host-a:102:0a0b', t, { requests: 1 }), t + 5_000)
    const newer = figures('host-a:102:0a0b', t + 1_000, { requests: 2, requestsTotal: 5_001 })
    await store().save(newer, t + 6_000)
    assert.deepEqual(await store().list(t + 5_500), [newer])
  })

  test('every instance shows; one removed leaves the others; a stale one is left out', async () => {
    const t = later()
    const a = figures('host-a:103:0001', t)
    const b = figures('host-b:7:0002', t + 10, { upstream: [{ network: 'flaky', state: 'open' }] })
    const stale = figures('host-c:9:0003', t - 10_000)
    await store().save(stale, t - 5_000)
    await store().save(a, t + 5_000)
    await store().save(b, t + 5_010)
    assert.deepEqual(byId(await store().list(t)), [a, b])
    await store().remove(a.instanceId)
    assert.deepEqual(await store().list(t), [b])
    await store().remove('never-saved')
    assert.deepEqual(await store().list(t), [b])
  })

  test('an instance that stopped writing comes back when it writes again', async () => {
    const t = later()
    const gone = figures('host-d:1:0004', t)
    await store().save(gone, t + 1_000)
    assert.deepEqual(await store().list(t + 2_000), [])
    const back = figures('host-d:1:0004', t + 3_000)
    await store().save(back, t + 8_000)
    assert.deepEqual(await store().list(t + 3_000), [back])
  })
}
