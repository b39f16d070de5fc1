import assert from 'node:assert/strict'
import { test } from 'node:test'
import { catalogEntry } from '../../src/domain/catalog-snapshot.js'
import { campaignDraft, unitDraft } from '../../src/domain/drafts.js'
import type { ReportIncrement } from '../../src/domain/report.js'
import type { Allocation } from '../../src/services/allocation.service.js'
import { createReportTally } from '../../src/services/report-tally.service.js'
import { createManualScheduler } from '../helpers/manual-timers.js'

const NOW = Date.UTC(2026, 10, 25, 16, 10) // the 26th in Seoul
const quiet = { info() {}, warn() {}, error() {} }
const unit = {
  ...unitDraft({ app_id: 1, timezone: 'Asia/Seoul', page_limit: 4 }),
  id: 7,
  created_at: 0,
  updated_at: 0,
}
const entry = (id: number) =>
  catalogEntry({
    ...campaignDraft({ name: 'c', type: 'I', start_date: 0, end_date: NOW * 2 }),
    id,
    created_at: 0,
    updated_at: 0,
  })
const allocation = (ads: number[]): Allocation => ({
  unit,
  request: { device_id: 1, ifa: 'i', unit_device_token: 'u', sdk_version: 3000 },
  now: NOW,
  currentSlot: 0,
  ads: ads.map(entry),
  upstream: [],
  contents: [],
  channels: new Map(),
  device: { unitId: 7, appId: 1, customTargets: [undefined, undefined, undefined] },
})
const byMetric = (batch: readonly ReportIncrement[]) =>
  Object.fromEntries(batch.map((i) => [`${i.kind} ${i.campaignId} ${i.day} ${i.metric}`, i.by]))

test('allocations are tallied in memory and written as one batch of increments on the local day', async () => {
  const batches: ReportIncrement[][] = []
  const tally = createReportTally({
    sink: { add: async (b) => void batches.push([...b]) },
    flushMs: 60_000,
    scheduler: createManualScheduler(NOW).scheduler,
    logger: quiet,
  })
  tally.record(allocation([1, 2, 3, 4, 5, 6]), 3.5)
  tally.record(allocation([1]), 40)
  tally.record(allocation([]), 0.5)
  assert.equal(batches.length, 0, 'nothing is written per allocation')
  await tally.flush()
  assert.deepEqual(byMetric(batches[0] ?? []), {
    'unit 0 2026-11-26 requests': 3,
    'unit 0 2026-11-26 items': 7,
    'unit 0 2026-11-26 filled': 5,
    'unit 0 2026-11-26 page_slots': 12,
    'unit 0 2026-11-26 empty': 1,
    'unit 0 2026-11-26 latency_le_1': 1,
    'unit 0 2026-11-26 latency_le_5': 1,
    'unit 0 2026-11-26 latency_le_50': 1,
    'campaign 1 2026-11-26 allocations': 2,
    'campaign 2 2026-11-26 allocations': 1,
    'campaign 3 2026-11-26 allocations': 1,
    'campaign 4 2026-11-26 allocations': 1,
    'campaign 5 2026-11-26 allocations': 1,
    'campaign 6 2026-11-26 allocations': 1,
  })
  await tally.flush()
  assert.equal(batches.length, 1, 'an empty tally writes nothing')
})

test('a failed flush keeps its figures for the next one; stop writes what is left', async () => {
  const batches: ReportIncrement[][] = []
  let down = true
  const tally = createReportTally({
    sink: {
      add: async (b) => {
        if (down) throw new Error('database down')
        batches.push([...b])
      },
    },
    flushMs: 60_000,
    scheduler: createManualScheduler(NOW).scheduler,
    logger: quiet,
  })
  tally.record(allocation([1]), 2)
  await assert.rejects(tally.flush(), /database down/)
  tally.record(allocation([1]), 2)
  down = false
  await tally.stop()
  assert.equal(batches.length, 1)
  const totals = byMetric(batches[0] ?? [])
  assert.equal(totals['unit 0 2026-11-26 requests'], 2)
  assert.equal(totals['campaign 1 2026-11-26 allocations'], 2)
})

test('a database that fails at shutdown costs the last figures (logged), never the shutdown', async () => {
  const warnings: string[] = []
  const tally = createReportTally({
    sink: {
      add: async () => {
        throw new Error('database down')
      },
    },
    flushMs: 60_000,
    scheduler: createManualScheduler(NOW).scheduler,
    logger: { ...quiet, warn: (_obj: unknown, msg?: string) => void warnings.push(String(msg)) },
  })
  tally.record(allocation([1]), 2)
  await tally.stop()
  assert.deepEqual(warnings, ['report figures not written at shutdown; lost'])
})

test('started, the tally flushes every flushMs; a failed flush is reported and its figures go with the next', async () => {
  const batches: ReportIncrement[][] = []
  let down = false
  const { scheduler, advance, errors } = createManualScheduler(NOW)
  const tally = createReportTally({
    sink: {
      add: async (b) => {
        if (down) throw new Error('database down')
        batches.push([...b])
      },
    },
    flushMs: 60_000,
    scheduler,
    logger: quiet,
  })
  tally.start()
  tally.record(allocation([1]), 2)
  await advance(59_999)
  assert.equal(batches.length, 0)
  await advance(1)
  assert.equal(byMetric(batches[0] ?? [])['unit 0 2026-11-26 requests'], 1)
  down = true
  tally.record(allocation([1]), 2)
  await advance(60_000)
  assert.deepEqual(errors, [['report flush', 'database down']])
  down = false
  tally.record(allocation([1]), 2)
  await advance(60_000)
  assert.equal(batches.length, 2)
  assert.equal(
    byMetric(batches[1] ?? [])['unit 0 2026-11-26 requests'],
    2,
    'the failed batch and the new one',
  )
  await tally.stop()
  tally.record(allocation([1]), 2)
  await advance(600_000)
  assert.equal(batches.length, 2, 'no flush after stop')
})

for (const commit of ['before', 'after'] as const)
  test(`a report read while a flush is being written counts each figure once (the batch committed ${commit} its write answers)`, async () => {
    const stored: ReportIncrement[] = []
    let answer: () => void = () => {}
    let writes = 0
    const tally = createReportTally({
      sink: {
        // The write answers only when the test says so; the batch is in the store before or only then.
        add: (b) => {
          writes++
          if (commit === 'before') stored.push(...b)
          return new Promise<void>((resolve) => {
            answer = () => {
              if (commit === 'after') stored.push(...b)
              resolve()
            }
          })
        },
      },
      flushMs: 60_000,
      scheduler: createManualScheduler(NOW).scheduler,
      logger: quiet,
    })
    const query = { kind: 'campaign' as const, from: '2026-11-26', to: '2026-11-26' }
    const allocations = (rows: { metric: string; value: number }[]) =>
      rows.filter((r) => r.metric === 'allocations').reduce((n, r) => n + r.value, 0)
    const readStored = async () =>
      stored.map((i) => ({
        unitId: i.unitId,
        campaignId: i.campaignId,
        day: i.day,
        metric: i.metric,
        value: i.by,
      }))
    tally.record(allocation([1]), 2)
    tally.record(allocation([1]), 2)
    const flushing = tally.flush()
    await new Promise((r) => setImmediate(r))
    assert.equal(writes, 1, 'the flush is in flight')
    const reading = tally.withUnwritten(query, readStored)
    tally.record(allocation([1]), 2)
    answer()
    await flushing
    assert.equal(allocations(await reading), 3, 'two written and one not yet: each once')
    // A flush waits for the reads in progress: the read sees the stored rows and the unwritten one, once each.
    let release: () => void = () => {}
    const slowRead = tally.withUnwritten(query, async () => {
      const rows = await readStored()
      await new Promise<void>((r) => (release = r))
      return rows
    })
    await new Promise((r) => setImmediate(r))
    const second = tally.flush()
    await new Promise((r) => setImmediate(r))
    assert.equal(writes, 1, 'the flush waits for the read')
    release()
    assert.equal(allocations(await slowRead), 3)
    await new Promise((r) => setImmediate(r))
    answer()
    await second
    assert.equal(writes, 2)
  })
