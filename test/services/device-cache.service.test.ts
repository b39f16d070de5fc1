import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  ACTIVITY_TTL_MS,
  type ActivityItem,
  type DeviceProfile,
  Registrations,
} from '../../src/domain/device.js'
import { DependencyUnavailable } from '../../src/domain/errors.js'
import { createDeviceCache } from '../../src/services/device-cache.service.js'
import type {
  DeviceRecord,
  DeviceSource,
  InvalidationBus,
  SharedDeviceCache,
} from '../../src/services/ports/devices.ports.js'
import { createManualScheduler } from '../helpers/manual-timers.js'

const NOW = 1_000_000_000
/** Runs nothing unless a test advances it: only the stale-copy retry uses it. */
const { scheduler } = createManualScheduler(NOW)
/** The cache options most tests share: a fixed clock, that scheduler, 10 devices for a minute. */
const CACHE = { clock: () => NOW, scheduler, maxDevices: 10, ttlMs: 60_000 }

/** An in-memory source that counts its reads. */
function fakeSource() {
  const reads = { load: 0, register: 0 }
  const activity = new Map<number, ActivityItem[]>()
  const profiles = new Map<number, DeviceProfile>()
  const registrations = new Map<string, number>()
  let gate: Promise<void> = Promise.resolve()
  const source: DeviceSource = {
    loadDevice: async (d, since) => {
      reads.load++
      await gate
      const registered = new Registrations()
      for (const [key, at] of registrations) {
        const [device, unit] = key.split(':').map(Number)
        if (device === d) registered.set(unit as number, at)
      }
      return {
        profile: profiles.get(d),
        registrations: registered,
        activity: (activity.get(d) ?? []).filter((a) => a.at >= since),
      }
    },
    getProfile: async (d) => profiles.get(d),
    putProfile: async (p) => {
      profiles.set(p.device_id, p)
    },
    registerDevice: async (d, u, at) => {
      reads.register++
      const key = `${d}:${u}`
      if (!registrations.has(key)) registrations.set(key, at)
      return registrations.get(key) as number
    },
    recordActivities: async (items) => {
      for (const { deviceId: d, item } of items) activity.set(d, [...(activity.get(d) ?? []), item])
    },
    listActivity: async (d) => activity.get(d) ?? [],
  }
  return { source, reads, hold: (p: Promise<void>) => (gate = p) }
}

/** A shared level and bus held in memory, standing in for Redis between two "processes". */
function fakeShared() {
  const records = new Map<number, DeviceRecord>()
  const stamps = new Map<number, number>()
  const registrations = new Map<number, Map<number, number>>()
  const handlers: ((d: number) => void)[] = []
  let reads = 0
  const shared: SharedDeviceCache = {
    read: async (d) => {
      reads++
      const stored = records.get(d)
      const record = stored && {
        ...structuredClone(stored),
        registrations: new Registrations(registrations.get(d)),
      }
      return { record, stamp: String(stamps.get(d) ?? 0) }
    },
    rememberRegistration: async (d, unit, at) => {
      const known = registrations.get(d) ?? new Map<number, number>()
      if (!known.has(unit)) known.set(unit, at)
      registrations.set(d, known)
    },
    fill: async (d, record, stamp) => {
      if (String(stamps.get(d) ?? 0) === stamp) records.set(d, structuredClone(record))
    },
    appendActivity: async (d, item) => {
      records.get(d)?.activity.push(item)
      stamps.set(d, (stamps.get(d) ?? 0) + 1)
    },
    invalidate: async (d) => {
      records.delete(d)
      stamps.set(d, (stamps.get(d) ?? 0) + 1)
    },
  }
  const bus: InvalidationBus = {
    publish: async (d) => {
      for (const h of handlers) h(d)
    },
    subscribe: (h) => {
      handlers.push(h)
    },
  }
  return { shared, bus, reads: () => reads }
}

const imp = (campaign_id: number): ActivityItem => ({ type: 'impression', campaign_id, at: NOW })

describe('device cache', () => {
  test('concurrent misses for one device make one load, and a warm device reads nothing', async () => {
    const { source, reads, hold } = fakeSource()
    let release = () => {}
    hold(new Promise<void>((r) => (release = r)))
    const cache = createDeviceCache({ ...CACHE, source })
    const loads = Array.from({ length: 20 }, () => cache.load(7, 1001, NOW))
    release()
    await Promise.all(loads)
    assert.equal(reads.load, 1, 'one round trip for 20 concurrent misses')
    assert.equal(reads.register, 1, 'the new unit registered once, in the background')
    await cache.load(7, 1001, NOW)
    assert.deepEqual(reads, { load: 1, register: 1 })
    assert.deepEqual(
      cache.peek(7, 1001)?.registrations,
      new Registrations([[1001, NOW]]),
      'warm: at hand without I/O',
    )
    assert.equal(cache.peek(7, 2002), undefined, 'not for a unit it was never registered on')
  })

  test("each lookup is reported as a hit or a miss of this process's cache (a peek only when it finds)", async () => {
    const { source } = fakeSource()
    const lookups: boolean[] = []
    const cache = createDeviceCache({
      source,
      ...CACHE,
      onLookup: (hit) => lookups.push(hit),
    })
    assert.equal(cache.peek(7, 1001), undefined)
    assert.deepEqual(lookups, [], 'a peek that finds nothing is left to the load that follows')
    await cache.load(7, 1001, NOW)
    await cache.load(7, 1001, NOW)
    assert.ok(cache.peek(7, 1001))
    await cache.load(8, 1001, NOW)
    assert.deepEqual(lookups, [false, true, true, false])
  })

  test('an event recorded through the cache is seen by the next load without a source read', async () => {
    const { source, reads } = fakeSource()
    const cache = createDeviceCache({ ...CACHE, source })
    await cache.load(7, 1001, NOW)
    await cache.recordActivity(7, imp(3))
    await cache.recordActivity(7, imp(4))
    assert.deepEqual((await cache.load(7, 1001, NOW)).activity, [imp(3), imp(4)])
    assert.equal(reads.load, 1)
  })

  test('recording on a cached device keeps its history and drops the items that expired', async () => {
    const { source, reads } = fakeSource()
    let now = NOW
    const cache = createDeviceCache({ source, clock: () => now, scheduler, maxDevices: 10, ttlMs: 60_000 })
    const at = (campaign_id: number, t: number): ActivityItem => ({ type: 'impression', campaign_id, at: t })
    await source.recordActivities([{ deviceId: 8, item: at(1, NOW - ACTIVITY_TTL_MS + 10) }])
    await cache.load(8, 1001, NOW)
    await cache.recordActivity(8, at(2, NOW))
    await cache.recordActivity(8, at(3, NOW + 5))
    assert.deepEqual((await cache.load(8, 1001, NOW)).activity, [
      at(1, NOW - ACTIVITY_TTL_MS + 10),
      at(2, NOW),
      at(3, NOW + 5),
    ])
    now = NOW + 20
    await cache.recordActivity(8, at(4, now))
    assert.deepEqual((await cache.load(8, 1001, now)).activity, [at(2, NOW), at(3, NOW + 5), at(4, now)])
    assert.equal(reads.load, 1)
  })

  test('a profile write drops the cached copy so the next load sees it', async () => {
    const { source } = fakeSource()
    const cache = createDeviceCache({ ...CACHE, source })
    assert.equal((await cache.load(7, 1001, NOW)).profile, null)
    await cache.putProfile({ device_id: 7, category_scores: { news: 3 }, updated_at: NOW })
    assert.deepEqual((await cache.load(7, 1001, NOW)).profile?.category_scores, { news: 3 })
  })

  test('a profile written while the device is loading: the load already under way caches nothing stale', async () => {
    const { source, reads } = fakeSource()
    let release = () => {}
    const gate = new Promise<void>((r) => (release = r))
    // Reads the store at once and answers later: the write below lands between the read and the answer.
    const slow: DeviceSource = {
      ...source,
      loadDevice: async (d, since) => {
        const read = await source.loadDevice(d, since)
        await gate
        return read
      },
    }
    const cache = createDeviceCache({
      source: slow,
      ...CACHE,
    })
    const before = cache.load(7, 1001, NOW)
    await new Promise((r) => setImmediate(r))
    await cache.putProfile({ device_id: 7, category_scores: { news: 3 }, updated_at: NOW })
    release()
    assert.equal((await before).profile, null, 'the caller that asked before the write gets what was read')
    assert.deepEqual((await cache.load(7, 1001, NOW)).profile?.category_scores, { news: 3 })
    assert.equal(reads.load, 2, 'the next load read the store again')
  })

  test('two processes: the second level saves the source read, and a write in one reaches the other', async () => {
    const { source, reads } = fakeSource()
    const { shared, bus } = fakeShared()
    const a = createDeviceCache({
      source,
      shared,
      bus,
      ...CACHE,
    })
    const b = createDeviceCache({
      source,
      shared,
      bus,
      ...CACHE,
    })
    await a.load(9, 1001, NOW)
    await b.load(9, 1001, NOW)
    await new Promise((r) => setImmediate(r)) // a's background registration note reaches the shared level
    assert.equal(reads.load, 1, 'b found the record in the shared level')
    assert.ok(reads.register <= 2, 'b registers at most once itself')
    await a.recordActivity(9, imp(5))
    assert.deepEqual(
      (await b.load(9, 1001, NOW)).activity,
      [imp(5)],
      'b dropped its copy and reread the shared one',
    )
    assert.equal(reads.load, 1, 'still no second source read')
    await b.putProfile({ device_id: 9, category_scores: { news: 1 }, updated_at: NOW })
    assert.deepEqual((await a.load(9, 1001, NOW)).profile?.category_scores, { news: 1 })
  })

  test('a quiet item (a click) reaches the shared copy; the other process keeps its own copy', async () => {
    const { source } = fakeSource()
    const { shared, bus, reads } = fakeShared()
    const published: number[] = []
    const counted = { ...bus, publish: async (d: number) => void published.push(d) }
    const options = { ...CACHE, source, shared }
    const a = createDeviceCache({ ...options, bus: counted })
    const b = createDeviceCache({ ...options, bus })
    await a.load(9, 1001, NOW)
    await b.load(9, 1001, NOW)
    const sharedReads = reads()
    const click = { type: 'click' as const, campaign_id: 5, at: NOW }
    await a.recordActivity(9, click, { quiet: true })
    assert.deepEqual(published, [], 'no invalidation sent')
    assert.deepEqual((await b.load(9, 1001, NOW)).activity, [], "b's copy kept: no reload")
    assert.equal(reads(), sharedReads, 'b did not read the shared level again')
    assert.deepEqual(await b.freshActivity(9), [click], 'the shared copy has the click for a reader past b')
    await a.recordActivity(9, imp(6))
    assert.deepEqual(published, [9], 'an impression still tells the other processes')
  })

  test('the first level holds at most DEVICE_CACHE_SIZE devices', async () => {
    const { source } = fakeSource()
    const cache = createDeviceCache({ source, clock: () => NOW, scheduler, maxDevices: 3, ttlMs: 60_000 })
    for (let d = 1; d <= 10; d++) await cache.load(d, 1001, NOW)
    assert.equal(cache.size(), 3)
  })

  test('a slow store: loads past maxLoads fail at once, cached and already-loading devices still answer', async () => {
    const { source, reads, hold } = fakeSource()
    const cache = createDeviceCache({
      source,
      clock: () => NOW,
      scheduler,
      maxDevices: 100,
      ttlMs: 60_000,
      maxLoads: 3,
    })
    await cache.load(1, 1001, NOW)
    await new Promise((r) => setImmediate(r)) // its registration (a store call too) has been written
    assert.equal(cache.pendingLoads(), 0)
    let release = () => {}
    hold(new Promise<void>((r) => (release = r)))
    const slow = [2, 3, 4].map((d) => cache.load(d, 1001, NOW))
    assert.equal(cache.pendingLoads(), 3)
    await assert.rejects(cache.load(5, 1001, NOW), (err: Error) => {
      assert.ok(err instanceof DependencyUnavailable)
      assert.equal(err.reason, 'overloaded')
      return true
    })
    const again = cache.load(2, 1001, NOW)
    assert.equal((await cache.load(1, 1001, NOW)).profile, null, 'a cached device needs no load')
    assert.equal(reads.load, 4, 'the refused load never reached the store')
    release()
    await Promise.all([...slow, again])
    await new Promise((r) => setImmediate(r)) // their registrations are written in the background
    assert.equal(cache.pendingLoads(), 0)
    await cache.load(5, 1001, NOW)
  })

  test('a stream of new devices on a slow store: their registrations take at most half of maxLoads, their reads the rest', async () => {
    const { source, reads } = fakeSource()
    let release = () => {}
    const held = new Promise<void>((r) => (release = r))
    const register = source.registerDevice
    // Reads answer at once; registrations wait, as the background writes of a store slower than the stream.
    const slowWrites: DeviceSource = {
      ...source,
      registerDevice: async (...a) => held.then(() => register(...a)),
    }
    const degraded: string[] = []
    const cache = createDeviceCache({
      source: slowWrites,
      clock: () => NOW,
      scheduler,
      maxDevices: 100,
      ttlMs: 60_000,
      maxLoads: 4,
      onDegraded: (what) => degraded.push(what),
    })
    // Each a new device: before, the fifth found the bound full of the first four's registrations and failed.
    for (let d = 1; d <= 8; d++) assert.equal((await cache.load(d, 1001, NOW)).profile, null, `device ${d}`)
    assert.equal(reads.load, 8, 'every new device was read')
    assert.equal(cache.pendingLoads(), 2, 'two registrations in flight: half of maxLoads')
    assert.deepEqual([...new Set(degraded)], ['device registration'], 'the others waited for a later load')
    release()
    await held
    await new Promise((r) => setImmediate(r))
    assert.equal(cache.pendingLoads(), 0)
    assert.equal(reads.register, 2)
    // A deferred registration is made by the device's next load.
    await cache.load(3, 1001, NOW + 1)
    await new Promise((r) => setImmediate(r))
    assert.equal(reads.register, 3)
  })

  test('stop waits for the registrations under way: none is cut off by the store closing after it', async () => {
    const { source, reads } = fakeSource()
    const register = source.registerDevice
    // A store whose registration takes 20 ms (DynamoDB's: a read of the registration, then its write).
    const slow: DeviceSource = {
      ...source,
      registerDevice: (...a) => new Promise((r) => setTimeout(r, 20)).then(() => register(...a)),
    }
    const cache = createDeviceCache({
      source: slow,
      ...CACHE,
    })
    await Promise.all([cache.load(1, 1001, NOW), cache.load(2, 1001, NOW)])
    assert.equal(reads.register, 0, 'not written yet')
    await cache.stop()
    assert.equal(reads.register, 2, 'both written before stop resolved')
    assert.equal(cache.pendingLoads(), 0)
  })

  test('the shared level failing: loads come from the source, writes still reach the other processes', async () => {
    const { source, reads } = fakeSource()
    const { shared, bus } = fakeShared()
    const degraded: string[] = []
    const down = new DependencyUnavailable('redis', 'unreachable')
    const failing = {
      ...shared,
      read: async () => Promise.reject(down),
      fill: async () => Promise.reject(down),
      rememberRegistration: async () => Promise.reject(down),
    }
    const a = createDeviceCache({
      source,
      shared: failing,
      bus,
      ...CACHE,
      onDegraded: (what) => degraded.push(what),
    })
    assert.equal((await a.load(9, 1001, NOW)).registrations.get(1001), NOW)
    assert.equal(reads.load, 1)
    await new Promise((r) => setImmediate(r)) // the registration note is written in the background
    assert.deepEqual(degraded, ['shared device cache read', 'shared registration note'])
  })

  test('a write does not wait on the invalidation bus, and a failing bus does not fail it', async () => {
    const { source } = fakeSource()
    const degraded: string[] = []
    const stuck: InvalidationBus = { publish: () => new Promise(() => {}), subscribe: () => {} }
    const cache = createDeviceCache({
      source,
      bus: stuck,
      ...CACHE,
    })
    await cache.putProfile({ device_id: 3, category_scores: { news: 2 }, updated_at: NOW })
    const failing: InvalidationBus = {
      publish: async () => Promise.reject(new DependencyUnavailable('redis', 'unreachable')),
      subscribe: () => {},
    }
    const other = createDeviceCache({
      source,
      bus: failing,
      ...CACHE,
      onDegraded: (what) => degraded.push(what),
    })
    await other.putProfile({ device_id: 3, category_scores: { news: 3 }, updated_at: NOW })
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(degraded, ['device invalidation publish'])
  })
  test('a write the shared level missed: its copy is dropped once the shared level answers again, then the retry stops', async () => {
    const { source } = fakeSource()
    const { shared, bus } = fakeShared()
    const manual = createManualScheduler(NOW)
    let down = true
    const dropped: number[] = []
    const flaky: SharedDeviceCache = {
      ...shared,
      appendActivity: async () => Promise.reject(new DependencyUnavailable('redis', 'unreachable')),
      invalidate: async (d) => {
        if (down) throw new DependencyUnavailable('redis', 'unreachable')
        dropped.push(d)
        await shared.invalidate(d)
      },
    }
    const cache = createDeviceCache({
      source,
      shared: flaky,
      bus,
      clock: () => NOW,
      scheduler: manual.scheduler,
      maxDevices: 10,
      ttlMs: 60_000,
    })
    await cache.recordActivity(4, imp(1))
    await cache.recordActivity(5, imp(2))
    assert.equal(manual.pending(), 1, 'one retry for every stale device')
    await manual.advance(3_000)
    assert.deepEqual(dropped, [], 'the shared level is still down')
    assert.deepEqual(manual.errors, [], 'the retry is quiet: the failed write was reported')
    down = false
    await manual.advance(1_000)
    assert.deepEqual(dropped.sort(), [4, 5])
    assert.equal(manual.pending(), 0, 'nothing left to drop: the retry stopped')
    await manual.advance(5_000)
    assert.equal(dropped.length, 2)
  })
})
