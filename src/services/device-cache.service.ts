import { LRUCache } from 'lru-cache'
import { ACTIVITY_TTL_MS, type ActivityItem, type DeviceProfile } from '../domain/device.js'
import { DependencyUnavailable } from '../domain/errors.js'
import type { DeviceRecord, DeviceSource, InvalidationBus, SharedDeviceCache } from './ports/devices.ports.js'
import { createPeriodicFlush, type ScheduledJob, type Scheduler } from './scheduler.js'

type Deps = {
  source: DeviceSource
  shared?: SharedDeviceCache | undefined
  bus?: InvalidationBus | undefined
  clock: () => number
  /** Runs the retry that drops shared copies which missed a write. */
  scheduler: Scheduler
  maxDevices: number
  ttlMs: number
  /**
   * Most device loads (store reads and registrations) in flight at once; past it a load of a device that is
   * neither cached nor loading fails at once. When the store is slow, loads that allocation already gave up
   * on must not pile up without end. Registrations, which no request waits for, take at most half of it, so
   * a stream of new devices never leaves its own reads without room. Default: no limit.
   */
  maxLoads?: number
  /**
   * Activity is written to the source in batches every this many ms (a process that dies loses at most this
   * much of it; the shared level and this process see it at once). Omitted: each item is written at once.
   */
  activityFlushMs?: number | undefined
  /** Told when a best-effort step failed: a shared-level read or fill, a registration note, a publish. */
  onDegraded?: (what: string, err: unknown) => void
  /** Told of each lookup for a device record: found in this process's cache (hit) or not (miss). */
  onLookup?: (hit: boolean) => void
}

/** How often shared copies that missed a write are dropped again while the shared level fails. */
const STALE_RETRY_MS = 1_000

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
  scheduler,
  maxDevices,
  ttlMs,
  maxLoads = Number.POSITIVE_INFINITY,
  activityFlushMs,
  onDegraded = () => {},
  onLookup = () => {},
}: Deps) {
  const writer = activityWriter(source, scheduler, activityFlushMs)
  /** Loads in flight, one per device; a load whose device was dropped meanwhile fills nothing. */
  const loading = new Map<number, Promise<DeviceRecord>>()
  // No fetchMethod: lru-cache's fetch makes an AbortController per miss, a cost every cold device paid.
  const l1 = new LRUCache<number, DeviceRecord>({ max: maxDevices, ttl: ttlMs })
  const drop = (deviceId: number) => {
    l1.delete(deviceId)
    loading.delete(deviceId)
  }
  bus?.subscribe(drop, () => dropAll(l1, loading))
  const inFlight = () => loading.size + registrar.pending()

  /** Fails at once when the store already has `maxLoads` calls of this process to answer. */
  function admit(): void {
    if (inFlight() >= maxLoads) throw new DependencyUnavailable('device store', 'overloaded')
  }
  const registrar = createRegistrar(source, shared, admit, maxLoads / 2, onDegraded)
  const stale = staleSharedCopies(shared, scheduler, maxDevices)
  const { loadShared, freshActivity } = createLoader({ source, shared, stale, clock, writer, onDegraded })
  const changed = changeNotifier(shared, bus, stale, onDegraded)

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

  return {
    /**
     * The device's record, with its registration on `unitId` known: the store's, or `now` for a device the
     * store has never seen on that unit (recorded in the background; first time wins).
     */
    async load(deviceId: number, unitId: number, now: number): Promise<DeviceRecord> {
      const record = await fetchRecord(deviceId)
      if (record.registrations.get(unitId) === undefined)
        registrar.inBackground(record, deviceId, unitId, now)
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
      const activity = withUnwritten(stored.activity, writer.unwritten(deviceId))
      return { ...stored, activity, profile: stored.profile ?? null }
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
    freshActivity,

    /**
     * Records one item: queued for the next batch, or written before this resolves with `options.now`
     * (an item another process must see in the store: a capped campaign's impression). The shared copy
     * gets it at once; the other processes are told to drop their own copies unless `options.quiet` (an
     * item whose readers look past this process's copy when it is not there: a landing's click).
     */
    async recordActivity(
      deviceId: number,
      item: ActivityItem,
      options?: { now?: boolean; quiet?: boolean },
    ): Promise<void> {
      await writer.add(deviceId, item, options?.now === true)
      const cached = l1.peek(deviceId)
      if (cached) {
        // Appended in place (a copy per event made a busy device's events cost its whole history); the
        // expired items go when the oldest one has expired (readers skip expired items anyway).
        const since = clock() - ACTIVITY_TTL_MS
        const oldest = cached.activity[0]
        if (oldest !== undefined && oldest.at < since)
          cached.activity = cached.activity.filter((a) => a.at >= since)
        cached.activity.push(item)
      }
      await changed(deviceId, item, options?.quiet === true)
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
    /**
     * Stops retrying to drop stale shared copies, waits for the registrations under way (none is cut off by
     * the store's client closing after this) and writes the activity not written yet (on close).
     */
    async stop(): Promise<void> {
      await stale.stop()
      await registrar.settled()
      await writer.stop().catch((err) => onDegraded('device activity at shutdown (not written: lost)', err))
    },
    /** Device loads and registrations waiting on the stores now (for metrics and tests). */
    pendingLoads: inFlight,
  }
}

/**
 * Each time the invalidation bus is (again) subscribed, after a reconnection or a lost subscription, the drops
 * sent meanwhile were missed: every copy of this process may be stale, so all go (the shared level answers next).
 */
function dropAll(l1: { clear(): void }, loading: { clear(): void }): void {
  l1.clear()
  loading.clear()
}

/** Items of the store with this process's unwritten ones after them (time order kept). */
function withUnwritten(stored: ActivityItem[], unwritten: readonly ActivityItem[]): ActivityItem[] {
  return unwritten.length === 0 ? stored : [...stored, ...unwritten].sort((a, b) => a.at - b.at)
}

/** Most items kept for a store that keeps failing; past it the oldest are dropped (and reported). */
const MAX_UNWRITTEN = 200_000

/**
 * Activity on its way to the source: written at once without `flushMs`, else queued and written in batches
 * on the scheduler (a failed batch is kept for the next), and flushed once more at stop.
 */
function activityWriter(source: DeviceSource, scheduler: Scheduler, flushMs: number | undefined) {
  // By device, so a cold load finds its device's unwritten items without scanning the queue.
  let queue = new Map<number, ActivityItem[]>()
  let writing = new Map<number, ActivityItem[]>()
  let size = 0
  const entries = (m: Map<number, ActivityItem[]>) =>
    [...m].flatMap(([deviceId, items]) => items.map((item) => ({ deviceId, item })))
  const flush = async () => {
    if (queue.size === 0) return
    writing = queue
    queue = new Map()
    size = 0
    try {
      await source.recordActivities(entries(writing))
    } catch (err) {
      // Kept for the next flush, unless the store has been failing for so long that memory is at stake.
      if (size < MAX_UNWRITTEN)
        for (const [deviceId, items] of writing) {
          queue.set(deviceId, [...items, ...(queue.get(deviceId) ?? [])])
          size += items.length
        }
      throw err
    } finally {
      writing = new Map()
    }
  }
  const flusher =
    flushMs === undefined
      ? undefined
      : createPeriodicFlush(scheduler, 'device activity flush', flushMs, flush)
  flusher?.start()
  return {
    async add(deviceId: number, item: ActivityItem, now: boolean): Promise<void> {
      if (!flusher || now) return source.recordActivities([{ deviceId, item }])
      const items = queue.get(deviceId)
      if (items) items.push(item)
      else queue.set(deviceId, [item])
      size++
    },
    /** This device's items not in the store yet. */
    unwritten(deviceId: number): ActivityItem[] {
      const w = writing.get(deviceId)
      const q = queue.get(deviceId)
      return w && q ? [...w, ...q] : (w ?? q ?? [])
    },
    stop: async () => flusher?.stop(),
  }
}

/**
 * Registrations of devices on units: one store call per device and unit at a time, at most `most` at once.
 * That is half of the device cache's bound on store calls, so a stream of new devices never leaves its own
 * reads without room: before, on a store slower than the stream (dynalite in the bench), the background
 * registrations filled the bound and about two thirds of the allocations were served without their device's data.
 */
function createRegistrar(
  source: DeviceSource,
  shared: SharedDeviceCache | undefined,
  admit: () => void,
  most: number,
  onDegraded: (what: string, err: unknown) => void,
) {
  const registering = new Map<string, Promise<number>>()
  /** One registration call per device and unit at a time, however many allocations race. */
  function register(deviceId: number, unitId: number, now: number): Promise<number> {
    const key = `${deviceId}:${unitId}`
    let pending = registering.get(key)
    if (!pending) {
      if (registering.size >= most) throw new DependencyUnavailable('device store', 'overloaded')
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

  return {
    inBackground: registerInBackground,
    pending: () => registering.size,
    /** Resolves once the registrations started so far have been written (or have failed). */
    settled: async () => {
      await Promise.allSettled([...registering.values()])
    },
  }
}

/**
 * Devices whose shared copy may have missed a write (the shared level failed): dropped from the shared level
 * once it answers again, retried every STALE_RETRY_MS until then.
 */
function staleSharedCopies(shared: SharedDeviceCache | undefined, scheduler: Scheduler, maxDevices: number) {
  const stale = new Set<number>()
  let retrying: ScheduledJob | undefined

  /** Drops the shared copies that may have missed a write, every second until the shared level answers. */
  function dropStaleLater(deviceId: number): void {
    if (stale.size < maxDevices) stale.add(deviceId)
    if (retrying || !shared) return
    retrying = scheduler.every('stale shared device copies', STALE_RETRY_MS, async () => {
      const batch = [...stale]
      // Not reported again: the failed write was, and the shared level's reads report it while it is down.
      await Promise.all(batch.map((id) => shared.invalidate(id).then(() => stale.delete(id)))).catch(() => {})
      // Not awaited: this run is the one stop would wait for.
      if (stale.size === 0) void stopRetrying()
    })
  }
  /** Stops the retry; resolves when a retry in flight has finished. */
  const stopRetrying = async (): Promise<void> => {
    const job = retrying
    retrying = undefined
    await job?.stop()
  }

  return { has: (deviceId: number) => stale.has(deviceId), dropLater: dropStaleLater, stop: stopRetrying }
}

/**
 * Reads past this process's copy: the shared level's copy when it has one, else the source's (a cold load then
 * fills the shared level).
 */
function createLoader({
  source,
  shared,
  stale,
  clock,
  writer,
  onDegraded,
}: {
  source: DeviceSource
  shared: SharedDeviceCache | undefined
  stale: { has(deviceId: number): boolean }
  clock: () => number
  writer: { unwritten(deviceId: number): ActivityItem[] }
  onDegraded: (what: string, err: unknown) => void
}) {
  async function loadShared(deviceId: number): Promise<DeviceRecord> {
    if (!shared || stale.has(deviceId)) return loadSource(deviceId)
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
    const activity = withUnwritten(stored.activity, writer.unwritten(deviceId))
    return { profile: stored.profile ?? null, registrations: stored.registrations, activity }
  }

  /**
   * The device's activity for a cap check: always its store of record (a strongly consistent read) plus
   * what this process has not written yet, never a cache. A Redis failover may promote a replica that
   * missed the last appends of the shared copy: a check against that copy would count a capped impression
   * twice (the fleet run saw it).
   */
  async function freshActivity(deviceId: number): Promise<ActivityItem[]> {
    const since = clock() - ACTIVITY_TTL_MS
    const items = withUnwritten(await source.listActivity(deviceId, since), writer.unwritten(deviceId))
    return items.filter((a) => a.at >= since)
  }

  return { loadShared, freshActivity }
}

/**
 * After a write to the source: the shared copy is updated or dropped (awaited: a stale shared copy would
 * hide the write from every process for its whole ttl), and the other processes are told to drop theirs
 * (not awaited: their copies expire within ttlMs anyway, and a write never waits on the bus). The write
 * stands when the shared level fails: the device's shared copy is dropped as soon as it answers again
 * (until then this process reads that device past it), so Redis down never fails an event. `quiet`: the
 * shared copy is updated, the other processes are not told.
 */
function changeNotifier(
  shared: SharedDeviceCache | undefined,
  bus: Deps['bus'],
  stale: { dropLater(deviceId: number): void },
  onDegraded: (what: string, err: unknown) => void,
) {
  return async function changed(deviceId: number, item?: ActivityItem, quiet = false): Promise<void> {
    if (shared)
      await (item ? shared.appendActivity(deviceId, item) : shared.invalidate(deviceId)).catch((err) => {
        onDegraded('shared device cache write', err)
        stale.dropLater(deviceId)
      })
    if (!quiet) bus?.publish(deviceId).catch((err) => onDegraded('device invalidation publish', err))
  }
}
