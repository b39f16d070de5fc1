import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  daysBetween,
  histogramQuantile,
  isoDayValue,
  LATENCY_BOUNDS_MS,
  latencyBucket,
  latencyMetric,
} from '../../src/domain/report.js'
import { localDate, localDayShare } from '../../src/domain/schedule.js'

test('latency buckets: bounds are inclusive, the last bucket is open', () => {
  assert.equal(latencyBucket(0.2), 0)
  assert.equal(latencyBucket(1), 0)
  assert.equal(latencyBucket(1.01), 1)
  assert.equal(latencyBucket(50), LATENCY_BOUNDS_MS.indexOf(50))
  assert.equal(latencyBucket(99_999), LATENCY_BOUNDS_MS.length)
  assert.equal(latencyMetric(0), 'latency_le_1')
  assert.equal(latencyMetric(LATENCY_BOUNDS_MS.length), 'latency_le_inf')
})

test('quantiles interpolate inside their bucket; none without observations; the open bucket reads as its floor', () => {
  const counts = new Array(LATENCY_BOUNDS_MS.length + 1).fill(0)
  assert.equal(histogramQuantile(counts, 0.5), null)
  counts[latencyBucket(4)] = 100 // (3, 5]
  assert.equal(histogramQuantile(counts, 0.5), 4)
  assert.equal(histogramQuantile(counts, 0.99), 4.98)
  counts[LATENCY_BOUNDS_MS.length] = 2
  assert.equal(histogramQuantile(counts, 0.99), 2000)
})

test('quantiles read with other bounds (the /metrics histogram the dashboard reads)', () => {
  const bounds = [1, 2.5, 5, 10]
  assert.equal(histogramQuantile([0, 0, 10, 0, 0], 0.5, bounds), 3.75, 'half way into (2.5, 5]')
  assert.equal(histogramQuantile([0, 0, 0, 0, 4], 0.5, bounds), 10, 'the open bucket reads as its floor')
  assert.equal(histogramQuantile([1, 0, 0, 0, 0], 0.5, bounds), 0.5)
})

test('ISO days: only real dates; day spans include both ends', () => {
  assert.equal(isoDayValue('2026-11-25'), Date.UTC(2026, 10, 25))
  assert.ok(Number.isNaN(isoDayValue('2026-02-30')))
  assert.ok(Number.isNaN(isoDayValue('2026-1-05')))
  assert.equal(daysBetween('2026-11-25', '2026-11-25'), 1)
  assert.equal(daysBetween('2026-03-28', '2026-03-30'), 3)
  assert.equal(daysBetween('2026-11-26', '2026-11-25'), 0)
})

test("local days and how much of them has passed, in the unit's timezone (half-hour zones too)", () => {
  const at = Date.UTC(2026, 10, 25, 16, 30)
  assert.equal(localDate('UTC', at), '2026-11-25')
  assert.equal(localDate('Asia/Seoul', at), '2026-11-26')
  assert.equal(localDate('Asia/Kolkata', Date.UTC(2026, 0, 1, 18, 29)), '2026-01-01')
  assert.equal(localDate('Asia/Kolkata', Date.UTC(2026, 0, 1, 18, 30)), '2026-01-02')
  assert.equal(localDayShare('UTC', at), 16.5 / 24)
  assert.equal(localDayShare('Asia/Seoul', at), 1.5 / 24)
})
