import type { ActivityItem, DeviceProfile, Registrations, StoredDevice } from '../../domain/device.js'

/*
 * Ports of the devices feature: the profile and activity store (SQL or DynamoDB), the shared cache level,
 * the invalidation bus and the per-device lock (Redis), the installed-apps store (SQL).
 */

/** Device profiles and first-registration times; DynamoDB in production, SQL when embedded. */
export type ProfileStore = {
  getProfile(deviceId: number): Promise<DeviceProfile | undefined>
  putProfile(profile: DeviceProfile): Promise<void>
  /** The first time the device was seen on the unit, recording `at` if it is the first time (atomic). */
  registerDevice(deviceId: number, unitId: number, at: number): Promise<number>
}

/** Recent activity per device, expiring after ACTIVITY_TTL_MS. */
export type ActivityStore = {
  /** Many devices' items at once (written in batches by the device cache). */
  recordActivities(items: readonly { deviceId: number; item: ActivityItem }[]): Promise<void>
  /** The device's items at or after `since` (epoch ms), oldest first; strongly consistent (a cap check reads it). */
  listActivity(deviceId: number, since: number): Promise<ActivityItem[]>
}

/** A cold device costs one round trip to its store: profile, registrations and activity together. */
export type DeviceReader = { loadDevice(deviceId: number, since: number): Promise<StoredDevice> }

/** Everything allocation needs to know about one device, cached as one record. */
export type DeviceRecord = {
  profile: DeviceProfile | null
  /**
   * First registration time per unit id, for the units this device was allocated on. Not a plain object: a
   * numeric key like "1001" on one makes V8 allocate an elements array that long (~8 KB per device).
   */
  registrations: Registrations
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

/**
 * Tells the other processes to drop their first-level copy of a device (Redis pub/sub in production).
 * `onSubscribed` runs each time the subscription is (again) in place: messages sent before then were missed.
 */
export type InvalidationBus = {
  publish(deviceId: number): Promise<void>
  subscribe(handler: (deviceId: number) => void, onSubscribed?: () => void): void
}

/**
 * A lock on one device shared by every process (Redis in production); absent = one process. When the lock's
 * store is unreachable it runs `work` under this process's own serialization; when another process holds the
 * device past the wait it fails with DependencyUnavailable('device lock').
 */
export type DeviceLock = { run<T>(deviceId: number, work: () => Promise<T>): Promise<T> }

/** Where installed package lists live (the SQL database); `put` replaces the list. */
export type InstalledAppsStore = {
  get(appId: number, ifa: string): Promise<readonly string[] | undefined>
  put(appId: number, ifa: string, packages: readonly string[], at: number): Promise<void>
}
