import { LRUCache } from 'lru-cache'
import { ACTIVITY_TTL_MS, type ActivityItem, type DeviceProfile } from '../domain/device.js'
import { DependencyUnavailable } from '../domain/errors.js'
import type { ActivityStore, DeviceReader, ProfileStore } from './device-data.ports.js'

/** Everything allocation needs to know about one device, cached as one record. */
export type DeviceRecord = {
  profile: DeviceProfile | null
  /**
   * First registration time per unit id, for the units this device was allocated on. A Map: a numeric
   * key like "1001" on a plain object makes V8 allocate an elements array that long (~8 KB per device).
   */
  registrations: Map<number, number>
  /** Retained activity, oldest first. */
  activity: ActivityItem[]
}

/** The source of truth for device data (DynamoDB or SQL). */
export type DeviceSource = ProfileStore & ActivityStore & DeviceReader

/**
 * The shared second level (Redis in production): one round trip to read a record; activity appends that
 * are atomic, so two processes recording events for one device never lose one.
 */
export type SharedDeviceCache = {
  /** The record, or undefined on a miss; `stamp` tells `fill` whether a write happened since. */
  read(deviceId: number): Promise<{ record: DeviceRecord | undefined; stamp: string }>
  /** Stores a record loaded from the source, unless the device changed since `stamp` was read. */
  fill(deviceId: number, record: DeviceRecord, stamp: string): Promise<void>
  /** Appends an activity item to a cached record (no-op when not cached) and marks the device changed. */
  appendActivity(deviceId: number, item: ActivityItem): Promise<void>
  /** Drops the device's record and marks it changed. */
  invalidate(deviceId: number): Promise<void>
  /** Keeps a first registration time beside the record (it never changes), so reads return it. */
  rememberRegistration(deviceId: number, unitId: number, at: number): Promise<void>
}

/** Tells the other processes to drop their first-level copy of a device (Redis pub/sub in production). */
export type InvalidationBus = {
  publish(deviceId: number): Promise<void>
  subscribe(handler: (deviceId: number) => void): void
}

type Deps = {
  source: DeviceSource
  shared?: SharedDeviceCache | undefined
  bus?: InvalidationBus | undefined
  clock: () => number
  maxDevices: number
  ttlMs: number
  /**
   * Most device loads (store reads and registrations) in flight at once; past it a load of a device that is
   * neither cached nor loading fails at once. When the store is slow, loads that allocation already gave up
   * on must not pile up without end. Default: no limit.
   */
  maxLoads?: number
  /** Told when a best-effort step failed: a shared-level read or fill, a registration note, a publish. */
  onDegraded?: (what: string, err: unknown) => void
  /** Told of each lookup for a device record: found in this process's cache (hit) or not (miss). */
  onLookup?: (hit: boolean) => void
}

export type DeviceCache = ReturnType<typeof createDeviceCache>

/**
 * Two-level cache of device records: an in-process LRU first, the shared cache second, the source last.
 * Concurrent misses for one device make one load. Writes go to the source first, then update or drop
 * both levels, and tell the other processes to drop their copy.
 */
export function createDeviceCache({
  source,
  shared,
  bus,
  clock,
  maxDevices,
  ttlMs,
  maxLoads = Number.POSITIVE_INFINITY,
  onDegraded = () => {},
  onLookup = () => {},
}: Deps) {
  /** Loads in flight, one per device; a load whose device was dropped meanwhile fills nothing. */
  const loading = new Map<number, Promise<DeviceRecord>>()
  // No fetchMethod: lru-cache's fetch makes an AbortController per miss, a cost every cold device paid.
  const l1 = new LRUCache<number, DeviceRecord>({ max: maxDevices, ttl: ttlMs })
  const drop = (deviceId: number) => {
    l1.delete(deviceId)
    loading.delete(deviceId)
  }
  bus?.subscribe(drop)
  const registering = new Map<string, Promise<number>>()
  const inFlight = () => loading.size + registering.size

  /** Fails at once when the store already has `maxLoads` calls of this process to answer. */
  function admit(): void {
    if (inFlight() >= maxLoads) throw new DependencyUnavailable('device store', 'overloaded')
  }

  /** The cached record, else one load shared by every concurrent caller for this device. */
  function fetchRecord(deviceId: number): Promise<DeviceRecord> {
    const cached = l1.get(deviceId)
    onLookup(cached !== undefined)
    if (cached) return Promise.resolve(cached)
    const current = loading.get(deviceId)
    if (current) return current
    admit()
    const pending: Promise<DeviceRecord> = loadShared(deviceId).then(
      (record) => {
        if (loading.get(deviceId) === pending) {
          loading.delete(deviceId)
          l1.set(deviceId, record)
        }
        return record
      },
      (err) => {
        if (loading.get(deviceId) === pending) loading.delete(deviceId)
        throw err
      },
    )
    loading.set(deviceId, pending)
    return pending
  }

  /** One registration call per device and unit at a time, however many allocations race. */
  function register(deviceId: number, unitId: number, now: number): Promise<number> {
    const key = `${deviceId}:${unitId}`
    let pending = registering.get(key)
    if (!pending) {
      admit()
      pending = source
        .registerDevice(deviceId, unitId, now)
        .then(async (at) => {
          // The source decided; the shared copy only saves other processes a read.
          await shared
            ?.rememberRegistration(deviceId, unitId, at)
            .catch((err) => onDegraded('shared registration note', err))
          return at
        })
        .finally(() => registering.delete(key))
      registering.set(key, pending)
    }
    return pending
  }

  async function loadShared(deviceId: number): Promise<DeviceRecord> {
    if (!shared) return loadSource(deviceId)
    let cached: Awaited<ReturnType<SharedDeviceCache['read']>>
    try {
      cached = await shared.read(deviceId)
    } catch (err) {
      // The shared level is a cache: without it the source answers, and nothing is filled.
      onDegraded('shared device cache read', err)
      return loadSource(deviceId)
    }
    if (cached.record) return cached.record
    const loaded = await loadSource(deviceId)
    // Filling the shared level only saves other processes a read: this allocation does not wait for it.
    void shared
      .fill(deviceId, loaded, cached.stamp)
      .catch((err) => onDegraded('shared device cache fill', err))
    return loaded
  }

  /** A cold device: one round trip to its store (profile, registrations and activity together). */
  async function loadSource(deviceId: number): Promise<DeviceRecord> {
    const stored = await source.loadDevice(deviceId, clock() - ACTIVITY_TTL_MS)
    return { profile: stored.profile ?? null, registrations: stored.registrations, activity: stored.activity }
  }

  /**
   * Notes the device's first registration on `unitId` as `now` in this process's copy at once, and
   * records it in the store in the background (first wins there; a different answer replaces the note).
   * Allocation never waits on this write; when the store is overloaded the note waits for a later load.
   */
  function registerInBackground(record: DeviceRecord, deviceId: number, unitId: number, now: number): void {
    record.registrations.set(unitId, now)
    let pending: Promise<number>
    try {
      pending = register(deviceId, unitId, now)
    } catch (err) {
      record.registrations.delete(unitId)
      onDegraded('device registration', err)
      return
    }
    pending.then(
      (at) => record.registrations.set(unitId, at),
      (err) => {
        record.registrations.delete(unitId)
        onDegraded('device registration', err)
      },
    )
  }

  /**
   * After a write to the source: the shared copy is updated or dropped (awaited: a stale shared copy would
   * hide the write from every process for its whole ttl), and the other processes are told to drop theirs
   * (not awaited: their copies expire within ttlMs anyway, and a write never waits on the bus).
   */
  async function changed(deviceId: number, item?: ActivityItem): Promise<void> {
    if (shared) await (item ? shared.appendActivity(deviceId, item) : shared.invalidate(deviceId))
    bus?.publish(deviceId).catch((err) => onDegraded('device invalidation publish', err))
  }

  return {
    /**
     * The device's record, with its registration on `unitId` known: the store's, or `now` for a device the
     * store has never seen on that unit (recorded in the background; first time wins).
     */
    async load(deviceId: number, unitId: number, now: number): Promise<DeviceRecord> {
      const record = await fetchRecord(deviceId)
      if (record.registrations.get(unitId) === undefined) registerInBackground(record, deviceId, unitId, now)
      return record
    },

    /**
     * The device as allocation here would see it, with nothing cached or recorded: this process's copy when
     * it holds one (its registrations include those still being written), else the store's, read past the
     * shared level.
     */
    async inspect(deviceId: number, now: number): Promise<DeviceRecord> {
      const cached = l1.peek(deviceId)
      if (cached) return cached
      const stored = await source.loadDevice(deviceId, now - ACTIVITY_TTL_MS)
      return { ...stored, profile: stored.profile ?? null }
    },

    /** The cached record when this process holds it with the unit's registration: no I/O, no timer. */
    peek(deviceId: number, unitId: number): DeviceRecord | undefined {
      const record = l1.get(deviceId)
      if (record?.registrations.get(unitId) === undefined) return undefined
      // A miss here is counted by the load that follows it.
      onLookup(true)
      return record
    },

    /** The device's activity as every process sees it: the shared level's copy, else the store's. */
    async freshActivity(deviceId: number): Promise<ActivityItem[]> {
      const since = clock() - ACTIVITY_TTL_MS
      const cached = shared ? (await shared.read(deviceId)).record : undefined
      const items = cached ? cached.activity : await source.listActivity(deviceId, since)
      return items.filter((a) => a.at >= since)
    },

    async recordActivity(deviceId: number, item: ActivityItem): Promise<void> {
      await source.recordActivity(deviceId, item)
      const cached = l1.peek(deviceId)
      if (cached) {
        const since = clock() - ACTIVITY_TTL_MS
        cached.activity = [...cached.activity.filter((a) => a.at >= since), item]
      }
      await changed(deviceId, item)
    },

    /** The device's profile: the cached copy when there is one, else the source's. */
    async getProfile(deviceId: number): Promise<DeviceProfile | undefined> {
      const cached = l1.peek(deviceId)
      if (cached) return cached.profile ?? undefined
      return source.getProfile(deviceId)
    },

    async putProfile(profile: DeviceProfile): Promise<void> {
      await source.putProfile(profile)
      drop(profile.device_id)
      await changed(profile.device_id)
    },

    /** Number of devices held in the first level (for metrics and tests). */
    size: () => l1.size,
    /** Device loads and registrations waiting on the stores now (for metrics and tests). */
    pendingLoads: inFlight,
  }
}
