import { targetAge } from './sdk-v1.js'
import { type DeviceContext, provinceOf, type TargetingField, type TargetingPredicate } from './targeting.js'

/**
 * What allocation last saw of a device, kept compactly for reach estimates: the normalised attributes
 * targeting reads (as DeviceContext holds them), when, and the device's sample hash.
 */
export type SeenDevice = {
  deviceId: number
  /** sampleHash(deviceId): stored with the device so a store can hand out the smallest hashes first. */
  sample: number
  seenAt: number
  unitId: number
  appId: number
  country: string | undefined
  gender: string | undefined
  language: string | undefined
  carrier: string | undefined
  region: string | undefined
  yearOfBirth: number | undefined
  os: number | undefined
  sdk: number | undefined
  /** Epoch ms of the registration allocation used (day precision). */
  registeredAt: number | undefined
  /** Each custom target's values, comma-joined. */
  customTargets: [string | undefined, string | undefined, string | undefined]
}

/** Sample hashes are uniform over [0, 2^32). */
export const SAMPLE_SPACE = 2 ** 32

const fmix32 = (x: number) => {
  let h = x | 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * A device's position in the uniform sample: a 32-bit mix of its id. Every instance computes the same one,
 * so instances that know the same devices keep the same sample.
 */
export function sampleHash(deviceId: number): number {
  const lo = deviceId >>> 0
  const hi = Math.floor(deviceId / SAMPLE_SPACE) >>> 0
  return fmix32(fmix32(lo) ^ fmix32((hi + 0x9e3779b9) | 0))
}

const DAY_MS = 86_400_000
/** The UTC day number (days since the epoch) of an instant. */
export const dayNumber = (at: number) => Math.floor(at / DAY_MS)

/** Devices seen on the last N UTC days (today included) that a reach estimate answers for. */
export const REACH_WINDOWS_DAYS = [1, 7, 30] as const
/** How far back the sample keeps devices: the longest window. */
export const REACH_OLDEST_DAYS = 30

/** Per window: devices seen, matching, and removed by each field (first failing field), in the sample. */
export type SampleCounts = {
  days: number
  seen: number
  matching: number
  removed: Map<TargetingField, number>
}

const NONE16 = -32768
const NONE32 = -2147483648
const clamp32 = (v: number) => Math.max(-2147483647, Math.min(2147483647, Math.trunc(v)))

/**
 * A uniform sample of the devices seen in the last 30 days, at most `capacity` of them, in typed columns
 * with interned strings (about 70 bytes a device). It keeps the devices whose sample hash is below a
 * threshold (a bottom-k sample): each device is in it with probability threshold ÷ 2^32, so a count in the
 * sample divided by that probability estimates the count among all devices.
 */
export function createReachSample(capacity: number) {
  let size = 0
  let room = Math.min(capacity + 1, 1024)
  let threshold = SAMPLE_SPACE
  const rowOf = new Map<number, number>()
  const strings: (string | undefined)[] = [undefined]
  /** Each interned string's province (regions), computed once. */
  const provinces: (string | undefined)[] = [undefined]
  const stringIds = new Map<string, number>()
  const lists: (ReadonlySet<string> | undefined)[] = [undefined]
  const listIds = new Map<string, number>()

  let ids = new Float64Array(room)
  let samples = new Uint32Array(room)
  let days = new Int32Array(room)
  let units = new Int32Array(room)
  let apps = new Int32Array(room)
  let countries = new Uint32Array(room)
  let genders = new Uint32Array(room)
  let languages = new Uint32Array(room)
  let carriers = new Uint32Array(room)
  let regions = new Uint32Array(room)
  let years = new Int16Array(room)
  let oses = new Int32Array(room)
  let sdks = new Int32Array(room)
  let registered = new Uint32Array(room)
  let custom1 = new Uint32Array(room)
  let custom2 = new Uint32Array(room)
  let custom3 = new Uint32Array(room)

  function intern(value: string | undefined): number {
    if (value === undefined) return 0
    let id = stringIds.get(value)
    if (id === undefined) {
      id = strings.length
      strings.push(value)
      provinces.push(provinceOf(value))
      stringIds.set(value, id)
    }
    return id
  }

  function internList(value: string | undefined): number {
    if (value === undefined || value === '') return 0
    let id = listIds.get(value)
    if (id === undefined) {
      id = lists.length
      lists.push(new Set(value.split(',')))
      listIds.set(value, id)
    }
    return id
  }

  function resize(to: number): void {
    const grow = <T extends Float64Array | Uint32Array | Int32Array | Int16Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(to)
      b.set(a.subarray(0, Math.min(size, to)))
      return b
    }
    ids = grow(ids)
    samples = grow(samples)
    days = grow(days)
    units = grow(units)
    apps = grow(apps)
    countries = grow(countries)
    genders = grow(genders)
    languages = grow(languages)
    carriers = grow(carriers)
    regions = grow(regions)
    years = grow(years)
    oses = grow(oses)
    sdks = grow(sdks)
    registered = grow(registered)
    custom1 = grow(custom1)
    custom2 = grow(custom2)
    custom3 = grow(custom3)
    room = to
  }

  function write(row: number, d: SeenDevice): void {
    ids[row] = d.deviceId
    samples[row] = d.sample
    days[row] = dayNumber(d.seenAt)
    units[row] = clamp32(d.unitId)
    apps[row] = clamp32(d.appId)
    countries[row] = intern(d.country)
    genders[row] = intern(d.gender)
    languages[row] = intern(d.language)
    carriers[row] = intern(d.carrier)
    regions[row] = intern(d.region)
    years[row] = d.yearOfBirth === undefined ? NONE16 : Math.max(-32767, Math.min(32767, d.yearOfBirth))
    oses[row] = d.os === undefined ? NONE32 : clamp32(d.os)
    sdks[row] = d.sdk === undefined ? NONE32 : clamp32(d.sdk)
    registered[row] = d.registeredAt === undefined ? 0 : Math.max(1, Math.floor(d.registeredAt / 1000))
    custom1[row] = internList(d.customTargets[0])
    custom2[row] = internList(d.customTargets[1])
    custom3[row] = internList(d.customTargets[2])
  }

  /** Moves row `from` to row `to` (compaction). */
  function move(from: number, to: number): void {
    ids[to] = ids[from] as number
    samples[to] = samples[from] as number
    days[to] = days[from] as number
    units[to] = units[from] as number
    apps[to] = apps[from] as number
    countries[to] = countries[from] as number
    genders[to] = genders[from] as number
    languages[to] = languages[from] as number
    carriers[to] = carriers[from] as number
    regions[to] = regions[from] as number
    years[to] = years[from] as number
    oses[to] = oses[from] as number
    sdks[to] = sdks[from] as number
    registered[to] = registered[from] as number
    custom1[to] = custom1[from] as number
    custom2[to] = custom2[from] as number
    custom3[to] = custom3[from] as number
  }

  /**
   * Keeps only the `capacity` smallest hashes among devices seen since `oldestDay` (lowering the threshold
   * to the first hash left out) and forgets the rest.
   */
  function compact(oldestDay: number): void {
    let live = 0
    for (let i = 0; i < size; i++) if ((days[i] as number) >= oldestDay) live++
    if (live > capacity) {
      const kept = new Uint32Array(live)
      let k = 0
      for (let i = 0; i < size; i++) if ((days[i] as number) >= oldestDay) kept[k++] = samples[i] as number
      kept.sort()
      threshold = kept[capacity] as number
    }
    let to = 0
    rowOf.clear()
    for (let i = 0; i < size; i++) {
      if ((days[i] as number) < oldestDay || (samples[i] as number) >= threshold) continue
      if (i !== to) move(i, to)
      rowOf.set(ids[to] as number, to)
      to++
    }
    size = to
  }

  return {
    /** Adds or updates a device when its hash is in the sample; returns whether it is kept. */
    upsert(d: SeenDevice): boolean {
      if (d.sample >= threshold) return false
      let row = rowOf.get(d.deviceId)
      if (row === undefined) {
        if (size === room) {
          if (room < capacity + (capacity >> 3)) resize(Math.min(room * 2, capacity + (capacity >> 3)))
          else {
            compact(dayNumber(d.seenAt) - REACH_OLDEST_DAYS + 1)
            if (d.sample >= threshold) return false
          }
        }
        row = size++
        rowOf.set(d.deviceId, row)
      }
      write(row, d)
      return true
    },

    /** Sets the threshold a store's sample was cut at (only ever lowered). */
    cutAt(hash: number): void {
      if (hash < threshold) {
        threshold = hash
        compact(Number.NEGATIVE_INFINITY)
      }
    },

    size: () => size,
    /** Bytes held by the typed columns (the id → row index adds about 40 bytes a device). */
    bytes: () =>
      [ids, samples, days, units, apps, countries, genders, languages, carriers, regions, years, oses, sdks]
        .concat([registered, custom1, custom2, custom3])
        .reduce((n, a) => n + a.byteLength, 0),
    /** The probability that any one device is in the sample. */
    rate: () => threshold / SAMPLE_SPACE,

    /**
     * Counts the sampled devices seen in each window, how many match `targeting`, and which field (the
     * first one that fails, in matching order) removes the others. Every device goes through the same
     * check functions allocation runs; `yearOf(unitId)` is the local year at the unit (for ages).
     */
    count(
      targeting: TargetingPredicate,
      now: number,
      yearOf: (unitId: number) => number,
      windows: readonly number[] = REACH_WINDOWS_DAYS,
    ): SampleCounts[] {
      const today = dayNumber(now)
      const firstDays = windows.map((w) => today - w + 1)
      const oldest = Math.min(...firstDays)
      const out = windows.map((w) => ({
        days: w,
        seen: 0,
        matching: 0,
        removed: new Map<TargetingField, number>(),
      }))
      const customs: [
        ReadonlySet<string> | undefined,
        ReadonlySet<string> | undefined,
        ReadonlySet<string> | undefined,
      ] = [undefined, undefined, undefined]
      const device: DeviceContext = { unitId: 0, appId: 0, customTargets: customs }
      const localYears = new Map<number, number>()
      const year = (unitId: number) => {
        let y = localYears.get(unitId)
        if (y === undefined) {
          y = yearOf(unitId)
          localYears.set(unitId, y)
        }
        return y
      }
      for (let i = 0; i < size; i++) {
        const day = days[i] as number
        if (day < oldest || day > today) continue
        device.unitId = units[i] as number
        device.appId = apps[i] as number
        device.country = strings[countries[i] as number]
        device.gender = strings[genders[i] as number]
        device.language = strings[languages[i] as number]
        device.carrier = strings[carriers[i] as number]
        device.region = strings[regions[i] as number]
        device.province = provinces[regions[i] as number]
        const born = years[i] as number
        device.age = born === NONE16 ? undefined : targetAge(year(device.unitId), born)
        const os = oses[i] as number
        device.os = os === NONE32 ? undefined : os
        const sdk = sdks[i] as number
        device.sdk = sdk === NONE32 ? undefined : sdk
        const since = registered[i] as number
        device.registeredDays = since === 0 ? undefined : Math.floor(Math.max(0, now - since * 1000) / DAY_MS)
        customs[0] = lists[custom1[i] as number]
        customs[1] = lists[custom2[i] as number]
        customs[2] = lists[custom3[i] as number]
        const miss = targeting.firstMissField(device)
        for (let w = 0; w < out.length; w++) {
          if (day < (firstDays[w] as number)) continue
          const counts = out[w] as SampleCounts
          counts.seen++
          if (miss === undefined) counts.matching++
          else counts.removed.set(miss, (counts.removed.get(miss) ?? 0) + 1)
        }
      }
      return out
    },
  }
}

export type ReachSample = ReturnType<typeof createReachSample>

/**
 * A set of device ids in one typed array (open addressing, 8 bytes a slot, at most half full): the devices
 * a process already wrote today, without a JavaScript Set's ~40 bytes a device.
 */
export function createIdSet(initialSlots = 1024) {
  let slots = new Float64Array(initialSlots)
  let size = 0
  const indexOf = (table: Float64Array, id: number) => {
    const mask = table.length - 1
    let i = (Math.imul((id >>> 0) ^ Math.floor(id / SAMPLE_SPACE), 0x9e3779b1) >>> 0) & mask
    while (table[i] !== 0 && table[i] !== id) i = (i + 1) & mask
    return i
  }
  return {
    /** Adds `id` (> 0); false when it was there already. */
    add(id: number): boolean {
      const i = indexOf(slots, id)
      if (slots[i] === id) return false
      slots[i] = id
      if (++size * 2 > slots.length) {
        const old = slots
        slots = new Float64Array(old.length * 2)
        for (const v of old) if (v !== 0) slots[indexOf(slots, v)] = v
      }
      return true
    },
    clear(): void {
      slots = new Float64Array(initialSlots)
      size = 0
    },
    size: () => size,
  }
}
