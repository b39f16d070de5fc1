import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  derive,
  fleetTotal,
  instanceFigures,
  type LiveCounters,
  requestRate,
} from '../../src/domain/fleet.js'
import { figures } from '../contracts/fleet-store.contract.js'

const counters = (at: number, ok: number, errors: number, counts: number[]): LiveCounters => ({
  at,
  allocation: {
    requests: [
      { route: '/api/allocation/', status: '200', count: ok },
      { route: '/api/allocation/', status: '503', count: errors },
    ],
    latency: { boundsMs: [1, 10, 100], counts },
    answers: { filled: ok, empty: 0 },
  },
  deviceCache: { hits: ok, misses: errors, entries: 7 },
  postbacks: null,
  upstream: [],
})

describe('fleet figures', () => {
  test("an instance's figures are the differences of its counters over the window", () => {
    const f = instanceFigures(
      'a',
      counters(12_000, 150, 4, [100, 50, 4, 0]),
      counters(2_000, 50, 2, [40, 10, 2, 0]),
    )
    assert.equal(f.windowMs, 10_000)
    assert.equal(f.requests, 102)
    assert.equal(f.errors, 2)
    assert.equal(f.requestsTotal, 154)
    assert.deepEqual(f.latency.counts, [60, 40, 2, 0])
    assert.equal(requestRate(f), 10.2)
    assert.equal(derive(f).errorRate, 2 / 102)
  })

  test('the first reading has no window and no rate', () => {
    const f = instanceFigures('a', counters(5_000, 10, 0, [10, 0, 0, 0]))
    assert.equal(f.windowMs, 0)
    assert.equal(requestRate(f), null)
  })

  test('the fleet sums rates and counts; its p99 weighs every request, so a busy instance dominates', () => {
    const busy = figures('busy', 1_000, {
      windowMs: 10_000,
      requests: 1_000,
      latency: { boundsMs: [1, 10, 100], counts: [1_000, 0, 0, 0] },
      upstream: [{ network: 'x', state: 'closed' }],
    })
    const slow = figures('slow', 2_000, {
      windowMs: 5_000,
      requests: 10,
      latency: { boundsMs: [1, 10, 100], counts: [0, 0, 10, 0] },
      postbacks: { pending: 9, failed: 0, oldestPendingAgeSeconds: 1 },
      upstream: [{ network: 'x', state: 'open' }],
    })
    const total = fleetTotal([busy, slow])
    assert.equal(total.instances, 2)
    assert.equal(total.requestsPerSecond, 100 + 2)
    assert.equal(total.requests, 1_010)
    assert.deepEqual(total.latency.counts, [1_000, 0, 10, 0])
    // 1 % of 1,010 requests were slow: the fleet's p99 stays in the first bucket, the slow instance's does not.
    assert.ok((derive(total).p99Ms ?? Infinity) <= 1)
    assert.ok((derive(slow).p99Ms ?? 0) > 10)
    assert.deepEqual(total.postbacks, slow.postbacks, 'the newest reading of the shared outbox, not a sum')
    assert.deepEqual(total.upstream, [{ network: 'x', state: 'open' }], "each network's worst state")
  })

  test('an empty fleet sums to zeros without a rate', () => {
    const total = fleetTotal([])
    assert.equal(total.requests, 0)
    assert.equal(total.requestsPerSecond, null)
    assert.equal(derive(total).p99Ms, null)
  })
})
