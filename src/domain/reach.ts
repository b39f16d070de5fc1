import { type DeviceContext, provinceOf, type TargetingField, type TargetingPredicate } from './targeting.js'
import {
  type DeviceView,
  type ReachColumn,
  type ReachRead,
  type SeenAttributes,
  TARGETING_TABLE,
} from './targeting-fields.js'

/**
 * What allocation last saw of a device, kept compactly for reach estimates: the normalised attributes
 * targeting reads (as DeviceContext holds them), when, and the device's sample hash.
 */
export type SeenDevice = SeenAttributes & {
  deviceId: number
  /** sampleHash(deviceId): stored with the device so a store can hand out the smallest hashes first. */
  sample: number
  seenAt: number
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
const REACH_WINDOWS_DAYS = [1, 7, 30] as const
/** How far back the sample keeps devices: the longest window. */
export const REACH_OLDEST_DAYS = 30

/** Per window: devices seen, matching, and removed by each field (first failing field), in the sample. */
export type SampleCounts = {
  days: number
  seen: number
  matching: number
  removed: Map<TargetingField, number>
}

/** The targeting fields the sample keeps, each with its column codec (see targeting-fields.ts). */
const SAMPLED = TARGETING_TABLE.flatMap((f) => (f.reach ? [{ name: f.name, column: f.reach }] : []))
const ARRAYS = { u32: Uint32Array, i32: Int32Array, i16: Int16Array } as const

type Column = Float64Array | Uint32Array | Int32Array | Int16Array
/** The sample's typed columns, one slot per device: the key and day, then one per sampled field. */
type Columns = { ids: Float64Array; samples: Uint32Array; days: Int32Array; fields: Column[] }

function newColumns(room: number): Columns {
  return {
    ids: new Float64Array(room),
    samples: new Uint32Array(room),
    days: new Int32Array(room),
    fields: SAMPLED.map((f) => new ARRAYS[f.column.array](room)),
  }
}

/** Every column of the sample, the key columns first. */
const allColumns = (c: Columns): Column[] => [c.ids, c.samples, c.days, ...c.fields]

/** The same columns `to` slots long, the first `size` rows kept. */
function resized(columns: Columns, size: number, to: number): Columns {
  const next = newColumns(to)
  const from = allColumns(columns)
  allColumns(next).forEach((column, i) => {
    column.set((from[i] as Column).subarray(0, Math.min(size, to)))
  })
  return next
}

/** Index slots for `room` rows: a power of two, at least twice as many. */
const indexSlots = (room: number) => 2 ** Math.ceil(Math.log2(Math.max(16, room * 2)))

/** Strings and comma lists stored once, by number (0 = none); a region's province computed once. */
function createInterner() {
  const strings: (string | undefined)[] = [undefined]
  const provinces: (string | undefined)[] = [undefined]
  const stringIds = new Map<string, number>()
  const lists: (ReadonlySet<string> | undefined)[] = [undefined]
  const listIds = new Map<string, number>()
  return {
    strings,
    provinces,
    lists,
    intern(value: string | undefined): number {
      if (value === undefined) return 0
      let id = stringIds.get(value)
      if (id === undefined) {
        id = strings.length
        strings.push(value)
        provinces.push(provinceOf(value))
        stringIds.set(value, id)
      }
      return id
    },
    internList(value: string | undefined): number {
      if (value === undefined || value === '') return 0
      let id = listIds.get(value)
      if (id === undefined) {
        id = lists.length
        lists.push(new Set(value.split(',')))
        listIds.set(value, id)
      }
      return id
    },
  }
}
type Interner = ReturnType<typeof createInterner>

function writeRow(c: Columns, names: Interner, row: number, d: SeenDevice): void {
  c.ids[row] = d.deviceId
  c.samples[row] = d.sample
  c.days[row] = dayNumber(d.seenAt)
  for (let f = 0; f < SAMPLED.length; f++)
    (c.fields[f] as Column)[row] = (SAMPLED[f] as (typeof SAMPLED)[number]).column.write(d, names)
}

/**
 * A uniform sample of the devices seen in the last 30 days, at most `capacity` of them, in typed columns
 * with interned strings, found by id through an index over their hashes (about 90 bytes a device in all).
 * It keeps the devices whose sample hash is below a threshold (a bottom-k sample): each device is in it with
 * probability threshold ÷ 2^32, so a count in the sample divided by that probability estimates the count
 * among all devices.
 */
export function createReachSample(capacity: number) {
  let size = 0
  let room = Math.min(capacity + 1, 1024)
  let threshold = SAMPLE_SPACE
  const names = createInterner()
  let columns = newColumns(room)
  // Where each device's row is: open addressing over its sample hash, row + 1 per slot (0 = free), at most half
  // full; 8–16 bytes a device where a Map<number, number> took about 40.
  let index = new Int32Array(indexSlots(room))

  /** The slot holding `id`'s row, or the free slot where it would go. */
  function slotOf(id: number, hash: number): number {
    const mask = index.length - 1
    let i = hash & mask
    for (let row = index[i] as number; row !== 0 && columns.ids[row - 1] !== id; row = index[i] as number)
      i = (i + 1) & mask
    return i
  }

  /** Builds the index again for the first `size` rows (after a resize or a compaction moved them). */
  function reindex(): void {
    index = new Int32Array(indexSlots(room))
    const { ids, samples } = columns
    for (let row = 0; row < size; row++) index[slotOf(ids[row] as number, samples[row] as number)] = row + 1
  }

  /**
   * Keeps only the `capacity` smallest hashes among devices seen since `oldestDay` (lowering the threshold
   * to the first hash left out) and forgets the rest.
   */
  function compact(oldestDay: number): void {
    const { days, samples } = columns
    const live = liveHashes(columns, size, oldestDay)
    if (live.length > capacity) threshold = live.sort()[capacity] as number
    const all = allColumns(columns)
    let to = 0
    for (let i = 0; i < size; i++) {
      if ((days[i] as number) < oldestDay || (samples[i] as number) >= threshold) continue
      if (i !== to) for (const column of all) column[to] = column[i] as number
      to++
    }
    size = to
    reindex()
  }

  /** A free row for a new device, growing or compacting first; undefined when its hash no longer fits. */
  function freeRow(d: SeenDevice): number | undefined {
    if (size === room) {
      if (room < capacity + (capacity >> 3)) {
        const to = Math.min(room * 2, capacity + (capacity >> 3))
        columns = resized(columns, size, to)
        room = to
        reindex()
      } else {
        compact(dayNumber(d.seenAt) - REACH_OLDEST_DAYS + 1)
        if (d.sample >= threshold) return undefined
      }
    }
    return size++
  }

  return {
    /** Adds or updates a device when its hash is in the sample; returns whether it is kept. */
    upsert(d: SeenDevice): boolean {
      if (d.sample >= threshold) return false
      let row = (index[slotOf(d.deviceId, d.sample)] as number) - 1
      if (row < 0) {
        const free = freeRow(d)
        if (free === undefined) return false
        row = free
        // freeRow may have moved the rows and built the index again: look the slot up anew.
        index[slotOf(d.deviceId, d.sample)] = row + 1
      }
      writeRow(columns, names, row, d)
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
    /** Bytes held by the typed columns and the id → row index. */
    bytes: () => allColumns(columns).reduce((n, a) => n + a.byteLength, index.byteLength),
    /** The probability that any one device is in the sample. */
    rate: () => threshold / SAMPLE_SPACE,

    /**
     * Counts the sampled devices seen in each window, how many match `targeting`, and which field (the
     * first one that fails, in matching order) removes the others. Every device goes through the same
     * check functions allocation runs; `yearOf(unitId)` is the local year at the unit (for ages).
     */
    count: (
      targeting: TargetingPredicate,
      now: number,
      yearOf: (unitId: number) => number,
      windows: readonly number[] = REACH_WINDOWS_DAYS,
    ): SampleCounts[] => countSample(columns, size, names, { targeting, now, yearOf, windows }),
  }
}

/** The sample hashes of the rows seen since `oldestDay`. */
function liveHashes({ days, samples }: Columns, size: number, oldestDay: number): Uint32Array {
  let live = 0
  for (let i = 0; i < size; i++) if ((days[i] as number) >= oldestDay) live++
  const kept = new Uint32Array(live)
  let k = 0
  for (let i = 0; i < size; i++) if ((days[i] as number) >= oldestDay) kept[k++] = samples[i] as number
  return kept
}

type CountQuery = {
  targeting: TargetingPredicate
  now: number
  yearOf: (unitId: number) => number
  windows: readonly number[]
}

/** The sample's counts per window (see `count`): each row read back into one reused device context. */
function countSample(c: Columns, size: number, names: Interner, q: CountQuery): SampleCounts[] {
  const today = dayNumber(q.now)
  const firstDays = q.windows.map((w) => today - w + 1)
  const oldest = Math.min(...firstDays)
  const out = q.windows.map((w) => ({
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
  const view = device as DeviceView
  const at = { now: q.now, year: memoized(q.yearOf) }
  // Only the columns of the fields the draft restricts are read back (the unit's too: ages need it).
  const read = new Set<string>([...q.targeting.fields, 'target_unit'])
  const wanted = SAMPLED.flatMap((f, i) => (read.has(f.name) ? [i] : []))
  const readers = wanted.map((i) => (SAMPLED[i] as (typeof SAMPLED)[number]).column)
  const columns = wanted.map((i) => c.fields[i] as Column)
  for (let i = 0; i < size; i++) {
    const day = c.days[i] as number
    if (day < oldest || day > today) continue
    readRow(columns, i, readers, view, names, at)
    tally(out, firstDays, day, q.targeting.firstMissField(device))
  }
  return out
}

/** Reads row `i` of `columns` back into `device`, field by field in table order. */
function readRow(
  columns: readonly Column[],
  i: number,
  readers: readonly ReachColumn[],
  device: DeviceView,
  names: Interner,
  at: ReachRead,
): void {
  for (let f = 0; f < readers.length; f++)
    (readers[f] as ReachColumn).read((columns[f] as Column)[i] as number, device, names, at)
}

/** Counts one device in every window that includes its day. */
function tally(
  out: SampleCounts[],
  firstDays: number[],
  day: number,
  miss: TargetingField | undefined,
): void {
  for (let w = 0; w < out.length; w++) {
    if (day < (firstDays[w] as number)) continue
    const counts = out[w] as SampleCounts
    counts.seen++
    if (miss === undefined) counts.matching++
    else counts.removed.set(miss, (counts.removed.get(miss) ?? 0) + 1)
  }
}

/** `f` with its answers kept per argument. */
function memoized(f: (key: number) => number): (key: number) => number {
  const known = new Map<number, number>()
  return (key) => {
    let value = known.get(key)
    if (value === undefined) {
      value = f(key)
      known.set(key, value)
    }
    return value
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
