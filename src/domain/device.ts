/** Per-device facts kept in the profile store (DynamoDB in production, SQL when embedded). */

export type ActivityType = 'impression' | 'click'

/** One thing the device did with one campaign; kept about two days, it feeds caps, CTR and the seen set. */
export type ActivityItem = { type: ActivityType; campaign_id: number; at: number }

/** What the platform knows about a device beyond one request. */
export type DeviceProfile = {
  device_id: number
  /** Affinity per content category, higher = more interested. */
  category_scores: Record<string, number>
  updated_at: number
}

/** How long activity items are kept (DynamoDB TTL attribute / SQL purge). */
export const ACTIVITY_TTL_MS = 2 * 24 * 3_600_000

/** Everything a profile store knows about a device that allocation reads, as one record. */
export type StoredDevice = {
  profile: DeviceProfile | undefined
  /** First registration time per unit id. */
  registrations: Map<number, number>
  /** Activity at or after the time asked, oldest first. */
  activity: ActivityItem[]
}
