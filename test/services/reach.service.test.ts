import assert from 'node:assert/strict'
import { test } from 'node:test'
import { catalogSnapshot } from '../../src/domain/catalog-snapshot.js'
import { unitDraft } from '../../src/domain/drafts.js'
import type { SeenDevice } from '../../src/domain/reach.js'
import type { DeviceContext } from '../../src/domain/targeting.js'
import type { Allocation } from '../../src/services/allocation.service.js'
import { createReach, type SeenStore } from '../../src/services/reach.service.js'
import { createManualScheduler } from '../helpers/manual-timers.js'
import { syntheticDevices } from '../helpers/synthetic-devices.js'

const NOW = Date.UTC(2026, 10, 25, 3)
const DAY = 86_400_000
const quiet = { info() {}, warn() {}, error() {} }
const unit = { ...unitDraft({ app_id: 9, timezone: 'Asia/Seoul' }), id: 1001, created_at: 0, updated_at: 0 }
const snapshot = catalogSnapshot({
  version: 1,
  loadedAt: 0,
  units: [unit],
  campaigns: [],
  categories: [],
  channels: [],
})

/** An in-memory store that answers listSeen as the adapters do (ascending hash, then id). */
function memoryStore(initial: Iterable<SeenDevice> = []) {
  const byId = new Map<number, SeenDevice>([...initial].map((d) => [d.deviceId, d]))
  let failing = false
  let sorted: SeenDevice[] | undefined
  const store: SeenStore = {
    async saveSeen(devices) {
      if (failing) throw new Error('store down')
      for (const d of devices) byId.set(d.deviceId, d)
      sorted = undefined
    },
    async listSeen(since, after, limit) {
      sorted ??= [...byId.values()].sort((a, b) => a.sample - b.sample || a.deviceId - b.deviceId)
      const from = after
        ? sorted.findIndex(
            (d) => d.sample > after.sample || (d.sample === after.sample && d.deviceId > after.deviceId),
          )
        : 0
      return (from < 0 ? [] : sorted.slice(from)).filter((d) => d.seenAt >= since).slice(0, limit)
    },
  }
  const fail = (on: boolean) => {
    failing = on
  }
  return { store, byId, fail }
}

const reachOver = (store: SeenStore, sampleSize = 1_000, clock = () => NOW) =>
  createReach({
    store,
    catalog: { current: () => snapshot },
    clock,
    sampleSize,
    refreshMs: 60_000,
    flushMs: 60_000,
    scheduler: createManualScheduler(NOW).scheduler,
    logger: quiet,
  })

const device = (fields: Partial<DeviceContext> = {}): DeviceContext => ({
  unitId: 1001,
  appId: 9,
  customTargets: [new Set(['gold', 'vip']), undefined, undefined],
  ...fields,
})
const allocation = (deviceId: number, now: number, d: DeviceContext): Allocation => ({
  unit,
  request: { device_id: deviceId, ifa: 'i', unit_device_token: 'u', sdk_version: 3000, year_of_birth: 1990 },
  now,
  currentSlot: 0,
  ads: [],
  upstream: [],
  contents: [],
  channels: new Map(),
  device: d,
})

test('a device is queued once per UTC day, with the attributes the rules saw, and written in batches', async () => {
  const { store, byId, fail } = memoryStore()
  let now = NOW
  const reach = reachOver(store, 1_000, () => now)
  const d = device({ gender: 'F', region: '서울특별시 관악구', registeredDays: 3 })
  reach.observe(allocation(7, NOW, d))
  reach.observe(allocation(7, NOW + 1_000, d))
  assert.equal(reach.pending(), 1)
  reach.observe(allocation(7, NOW + DAY, d))
  assert.equal(reach.pending(), 2, 'a new day, written again')
  fail(true)
  await assert.rejects(reach.flush(), /store down/)
  assert.equal(reach.pending(), 2, 'kept for the next flush')
  fail(false)
  await reach.flush()
  assert.equal(reach.pending(), 0)
  const written = byId.get(7)
  assert.equal(written?.seenAt, NOW + DAY)
  assert.equal(written?.gender, 'F')
  assert.equal(written?.yearOfBirth, 1990)
  assert.equal(written?.registeredAt, NOW + DAY - 3 * DAY)
  assert.deepEqual(written?.customTargets, ['gold,vip', undefined, undefined])
  // This instance estimates from what it saw, before any load.
  now = NOW + DAY
  const estimate = reach.estimate({ target_gender: ['F'] })
  assert.deepEqual([estimate.rate, estimate.windows[0]?.matching], [1, 1])
})

test('instances that read the same store keep the same sample and give the same estimate', async () => {
  const { store } = memoryStore(syntheticDevices(20_000, NOW))
  const [a, b] = [reachOver(store, 2_000), reachOver(store, 2_000)]
  await Promise.all([a.load(), b.load()])
  const draft = { target_gender: ['F'], target_age_min: 20 }
  const [ea, eb] = [a.estimate(draft), b.estimate(draft)]
  assert.deepEqual(ea, eb)
  assert.equal(ea.sampled, 2_000)
  assert.ok(ea.rate > 0.08 && ea.rate < 0.12, `${ea.rate}`)
  const month = ea.windows[2]
  assert.ok(month && Math.abs(month.seen - 20_000) < 1_500, `${month?.seen}`)
  assert.ok(month && month.margin > 0)
  assert.equal(ea.loadedAt, NOW)
})

test('a rebuild keeps what this instance saw but has not written yet', async () => {
  const { store, fail } = memoryStore()
  const reach = reachOver(store)
  reach.observe(allocation(11, NOW, device({ gender: 'M' })))
  fail(true)
  await assert.rejects(reach.flush())
  await reach.load()
  assert.equal(reach.estimate({ target_gender: ['M'] }).windows[0]?.matching, 1)
})

test('a store that fails at shutdown costs the unwritten sightings (logged), never the shutdown', async () => {
  const { store, fail } = memoryStore()
  const warnings: string[] = []
  const reach = createReach({
    store,
    catalog: { current: () => snapshot },
    clock: () => NOW,
    sampleSize: 100,
    refreshMs: 60_000,
    flushMs: 60_000,
    scheduler: createManualScheduler(NOW).scheduler,
    logger: { ...quiet, warn: (_obj: unknown, msg?: string) => void warnings.push(String(msg)) },
  })
  reach.observe(allocation(12, NOW, device({ gender: 'M' })))
  fail(true)
  await reach.stop()
  assert.deepEqual(warnings, ['devices seen not written at shutdown'])
})

test('started, reach loads its sample, writes sightings every flushMs and rebuilds every refreshMs', async () => {
  const { store, byId } = memoryStore()
  const { scheduler, clock, advance, errors } = createManualScheduler(NOW)
  const reach = createReach({
    store,
    catalog: { current: () => snapshot },
    clock,
    sampleSize: 100,
    refreshMs: 300_000,
    flushMs: 60_000,
    scheduler,
    logger: quiet,
  })
  reach.start()
  await reach.load()
  assert.equal(reach.estimate({}).loadedAt, NOW, 'loaded at start')
  reach.observe(allocation(21, NOW, device()))
  await advance(60_000)
  assert.equal(reach.pending(), 0)
  assert.ok(byId.has(21), 'written by the periodic flush')
  await advance(240_000)
  assert.equal(reach.estimate({}).loadedAt, NOW + 300_000, 'rebuilt by the periodic refresh')
  reach.observe(allocation(22, clock(), device()))
  await reach.stop()
  assert.ok(byId.has(22), 'stop writes what is left')
  await advance(600_000)
  assert.equal(reach.estimate({}).loadedAt, NOW + 300_000, 'no rebuild after stop')
  assert.deepEqual(errors, [])
})
