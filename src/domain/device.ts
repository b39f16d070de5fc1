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
  registrations: Registrations
  /** Activity at or after the time asked, oldest first. */
  activity: ActivityItem[]
}

/**
 * First registration time per unit id, as a `Map<number, number>` would hold it, in a quarter of a Map's memory
 * for the one or two units a device has: a Map's smallest hash table alone takes about 180 bytes, and the
 * device cache holds one record per device (18 MB in the Maps of 100,000 cached devices, measured). Entries
 * are kept by unit id in one exact-size array, so two with the same entries are deep-equal whatever the
 * order they were set in; iteration is by unit id.
 */
export class Registrations implements ReadonlyMap<number, number> {
  /** unit id, time, unit id, time, … by unit id. */
  private pairs: number[]

  constructor(entries: Iterable<readonly [number, number]> = []) {
    this.pairs = []
    for (const [unitId, at] of entries) this.set(unitId, at)
  }

  get size(): number {
    return this.pairs.length / 2
  }

  get(unitId: number): number | undefined {
    const i = this.indexOf(unitId)
    return this.pairs[i] === unitId ? this.pairs[i + 1] : undefined
  }

  has(unitId: number): boolean {
    return this.pairs[this.indexOf(unitId)] === unitId
  }

  set(unitId: number, at: number): this {
    const pairs = this.pairs
    const i = this.indexOf(unitId)
    if (pairs[i] === unitId) pairs[i + 1] = at
    else {
      // A new array of the exact size (an array grown by push keeps room for 16 more entries).
      const next = new Array<number>(pairs.length + 2)
      for (let j = 0; j < i; j++) next[j] = pairs[j] as number
      next[i] = unitId
      next[i + 1] = at
      for (let j = i; j < pairs.length; j++) next[j + 2] = pairs[j] as number
      this.pairs = next
    }
    return this
  }

  delete(unitId: number): boolean {
    const i = this.indexOf(unitId)
    if (this.pairs[i] !== unitId) return false
    this.pairs = [...this.pairs.slice(0, i), ...this.pairs.slice(i + 2)]
    return true
  }

  *entries(): MapIterator<[number, number]> {
    const pairs = this.pairs
    for (let i = 0; i < pairs.length; i += 2) yield [pairs[i] as number, pairs[i + 1] as number]
  }

  *keys(): MapIterator<number> {
    for (const [unitId] of this.entries()) yield unitId
  }

  *values(): MapIterator<number> {
    for (const [, at] of this.entries()) yield at
  }

  forEach(callback: (at: number, unitId: number, map: ReadonlyMap<number, number>) => void): void {
    for (const [unitId, at] of this.entries()) callback(at, unitId, this)
  }

  [Symbol.iterator](): MapIterator<[number, number]> {
    return this.entries()
  }

  /** Where `unitId` is, or would go: the first pair whose unit id is not below it. */
  private indexOf(unitId: number): number {
    const pairs = this.pairs
    let i = 0
    while (i < pairs.length && (pairs[i] as number) < unitId) i += 2
    return i
  }
}
