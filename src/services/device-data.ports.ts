import type { ActivityItem, DeviceProfile, StoredDevice } from '../domain/device.js'

/** Device profiles and first-registration times; DynamoDB in production, SQL when embedded. */
export type ProfileStore = {
  getProfile(deviceId: number): Promise<DeviceProfile | undefined>
  putProfile(profile: DeviceProfile): Promise<void>
  /** The first time the device was seen on the unit, recording `at` if it is the first time (atomic). */
  registerDevice(deviceId: number, unitId: number, at: number): Promise<number>
}

/** Recent activity per device, expiring after ACTIVITY_TTL_MS. */
export type ActivityStore = {
  recordActivity(deviceId: number, item: ActivityItem): Promise<void>
  /** The device's items at or after `since` (epoch ms), oldest first. */
  listActivity(deviceId: number, since: number): Promise<ActivityItem[]>
}

/** A cold device costs one round trip to its store: profile, registrations and activity together. */
export type DeviceReader = { loadDevice(deviceId: number, since: number): Promise<StoredDevice> }
