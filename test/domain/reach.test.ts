import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Targeting } from '../../src/domain/catalog.js'
import { campaignDraft } from '../../src/domain/drafts.js'
import { createIdSet, createReachSample, SAMPLE_SPACE, sampleHash } from '../../src/domain/reach.js'
import { compileTargeting } from '../../src/domain/targeting.js'
import { REACH_DRAFTS, syntheticDevices } from '../helpers/synthetic-devices.js'

const NOW = Date.UTC(2026, 10, 25, 3)
const targetingOf = (targeting: Partial<Targeting>) =>
  compileTargeting({
    ...campaignDraft({ name: 'r', type: 'C', start_date: 0, end_date: 1, ...targeting }),
    id: 0,
    created_at: 0,
    updated_at: 0,
  })

test('sample hashes of sequential ids spread evenly over the hash space', () => {
  const buckets = new Array(16).fill(0)
  for (let id = 1; id <= 160_000; id++) buckets[Math.floor(sampleHash(id) / (SAMPLE_SPACE / 16))]++
  for (const n of buckets) assert.ok(Math.abs(n - 10_000) < 400, `${buckets}`)
  assert.equal(sampleHash(2 ** 53 - 1), sampleHash(2 ** 53 - 1), 'the same id, the same hash')
  assert.notEqual(sampleHash(2 ** 40), sampleHash(2 ** 40 + 2 ** 32), 'the high bits count')
})

test('a full sample keeps the smallest hashes and says how likely any device is to be in it', () => {
  const sample = createReachSample(1_000)
  const all = [...syntheticDevices(10_000, NOW)]
  for (const d of all) sample.upsert(d)
  assert.ok(sample.size() <= 1_125, `${sample.size()}`)
  const kept = all.filter((d) => d.sample < sample.rate() * SAMPLE_SPACE)
  assert.ok(kept.length >= 1_000 && kept.length <= 1_125, `${kept.length}`)
  assert.equal(sample.upsert({ ...(all[0] as (typeof all)[0]), sample: SAMPLE_SPACE - 1 }), false)
})

test('a device seen again updates its own row, through the sample growing and compacting', () => {
  const sample = createReachSample(500)
  const devices = [...syntheticDevices(4_000, NOW)]
  for (let round = 0; round < 2; round++) for (const d of devices) sample.upsert(d)
  // Every device under the final threshold has one row: none twice, none lost.
  const kept = devices.filter((d) => d.sample < sample.rate() * SAMPLE_SPACE)
  assert.ok(kept.length >= 500 && kept.length <= 562, `${kept.length}`)
  assert.equal(sample.size(), kept.length)
  // Seen again 40 days ago: each row is overwritten in place, so no window counts them any more.
  for (const d of kept) assert.equal(sample.upsert({ ...d, seenAt: NOW - 40 * 86_400_000 }), true)
  assert.equal(sample.size(), kept.length)
  assert.deepEqual(
    sample.count(targetingOf({}), NOW, () => 2026).map((w) => w.seen),
    [0, 0, 0],
  )
})

test('the id set remembers ids up to 2^53 exactly, and forgets them all on clear', () => {
  const ids = createIdSet(4)
  for (let i = 1; i <= 5_000; i++) assert.equal(ids.add(i * 7_919), true)
  assert.equal(ids.add(7_919), false)
  assert.equal(ids.add(2 ** 53 - 1), true)
  assert.equal(ids.add(2 ** 53 - 1), false)
  assert.equal(ids.size(), 5_001)
  ids.clear()
  assert.equal(ids.add(7_919), true)
})

test('1,000,000 synthetic devices: the default sample (262,144) estimates within ±5 % of the exact count', (t) => {
  const exact = createReachSample(1_000_001)
  const sample = createReachSample(262_144)
  for (const d of syntheticDevices(1_000_000, NOW)) {
    exact.upsert(d)
    sample.upsert(d)
  }
  assert.equal(exact.rate(), 1)
  const rate = sample.rate()
  let worst = 0
  for (const { name, targeting } of REACH_DRAFTS) {
    const predicate = targetingOf(targeting)
    const truth = exact.count(predicate, NOW, () => 2026)
    const estimate = sample.count(predicate, NOW, () => 2026)
    const errors = truth.map((w, i) => {
      const matching = (estimate[i]?.matching ?? 0) / rate
      const margin = (1.96 * Math.sqrt((estimate[i]?.matching ?? 0) * (1 - rate))) / rate
      // The stated 95 % margin covers the error (with room: 7 drafts × 3 windows are checked).
      assert.ok(Math.abs(matching - w.matching) <= 1.5 * margin, `${name}, ${w.days} d: ±${margin}`)
      // Rule by rule, the scaled removals track the exact ones too.
      for (const [field, removed] of w.removed) {
        const scaled = (estimate[i]?.removed.get(field) ?? 0) / rate
        assert.ok(
          Math.abs(scaled - removed) <= Math.max(0.05 * removed, 3 * Math.sqrt(removed / rate)),
          field,
        )
      }
      return (matching - w.matching) / w.matching
    })
    worst = Math.max(worst, ...errors.map(Math.abs))
    t.diagnostic(
      `${name}: exact ${truth.map((w) => w.matching)} error ${errors.map((e) => `${(e * 100).toFixed(2)} %`)}`,
    )
  }
  t.diagnostic(`sampling rate ${rate.toFixed(4)}, worst error ${(worst * 100).toFixed(2)} %`)
  assert.ok(worst <= 0.05, `worst error ${worst}`)
})
