import { normalizeCarrier } from './carrier.js'
import { targetAge } from './sdk-v1.js'

/**
 * The one table of targeting fields. Each entry says, for one field: its name (as the explainer and the
 * reach estimate report it), its kind, the campaign keys it owns (admin JSON and storage names), how a
 * value is normalised, the device-context attribute the allocation request supplies for it, how it
 * matches, and the column the reach sample keeps for it. Everything else is derived from this table:
 * the `Targeting` type and its empty value, the compiled matcher (src/domain/targeting.ts), the device
 * context, the admin schema's targeting properties and the reach sample's columns.
 *
 * Entries are in wire order (the order of the admin API's properties); `rank` is the matching order
 * (most selective first), which is also the order the explainer and the reach estimate list fields in.
 */

/** A range rule's bounds, both inclusive (null = open). */
export type Bounds = { min: number | null; max: number | null }
/** One list target: the normalised inclusion and exclusion sets (undefined = no restriction). */
export type ListRule = { include: ReadonlySet<string> | undefined; exclude: ReadonlySet<string> | undefined }
/** One range target: inclusive inclusion and exclusion bounds (null = open). */
export type RangeRule = { min: number | null; max: number | null; dmin: number | null; dmax: number | null }

/** A field's values involved in a miss: the device's, the inclusion rule and the exclusion rule. */
export type Described = {
  /** What the request proved about the device for this field (undefined = not sent). */
  deviceValue: string | number | readonly string[] | undefined
  /** The inclusion list or range (undefined = none). */
  target: readonly string[] | Bounds | undefined
  /** The exclusion list or range (undefined = none). */
  detarget: readonly string[] | Bounds | undefined
}

/** The device-context attributes every field may read that no single field owns. */
export type DeviceBase = {
  unitId: number
  appId: number
  /** The province of a "province district" region, computed once per device (see provinceOf). */
  province?: string | undefined
  installedPackages?: ReadonlySet<string> | undefined
  customTargets: readonly [
    ReadonlySet<string> | undefined,
    ReadonlySet<string> | undefined,
    ReadonlySet<string> | undefined,
  ]
}

/** What an allocation request says about the device (the v1 names, parsed but not normalised); the allocation request extends it. */
export type DeviceRequest = {
  app_id?: number | undefined
  sdk_version?: number | undefined
  year_of_birth?: number | undefined
  sex?: string | undefined
  region?: string | undefined
  carrier?: string | undefined
  country?: string | undefined
  /** Comma list; the first language targets. */
  language?: string | undefined
  device_os?: number | undefined
  /** Epoch seconds of the device's registration, overriding what Allot recorded. */
  registered_date?: number | undefined
  custom_target_1?: string | undefined
  custom_target_2?: string | undefined
  custom_target_3?: string | undefined
}

/** Everything a device context is built from: the request, its unit, the time and what Allot recorded. */
export type DeviceFacts = {
  request: DeviceRequest
  unit: { id: number; app_id: number; country: string }
  now: number
  /** The current calendar year in the unit's timezone (asked only when the request has a year of birth). */
  localYear(): number
  /** Epoch ms of the registration Allot recorded for the device on this unit (undefined = none). */
  registeredAt: number | undefined
  installed: ReadonlySet<string> | undefined
}

/** A device-context attribute that one field owns: its key, its value kind and where the request has it. */
type Attribute<K extends string, V> = {
  key: K
  /** The normalised value an allocation request supplies (undefined = the request does not carry it). */
  fromRequest(f: DeviceFacts): V | undefined
}

/** The strings and comma lists a reach sample stores by number (0 = none); see src/domain/reach.ts. */
export type ReachNames = {
  strings: readonly (string | undefined)[]
  provinces: readonly (string | undefined)[]
  lists: readonly (ReadonlySet<string> | undefined)[]
  intern(value: string | undefined): number
  internList(value: string | undefined): number
}

/** What a reach sample keeps of a device it saw (the store's shape; see SeenDevice in src/domain/reach.ts). */
export type SeenAttributes = {
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
  registeredAt: number | undefined
  customTargets: readonly [string | undefined, string | undefined, string | undefined]
}

/** When a reach count reads a column back into a device context: the time and the local year per unit. */
export type ReachRead = { now: number; year(unitId: number): number }

/** How the reach sample keeps one field: a typed column, what is stored, and how it is read back. */
export type ReachColumn = {
  array: 'u32' | 'i32' | 'i16'
  write(seen: SeenAttributes, names: ReachNames): number
  /** Sets the device context's value from the stored number (fields are read in table order). */
  read(stored: number, device: DeviceView, names: ReachNames, at: ReachRead): void
}

/** A device context as the table's generic code reads and writes it (by attribute key). */
export type DeviceView = DeviceBase & Record<string, unknown>

/** One targeting field. `R` is its compiled rule (undefined when the campaign restricts nothing). */
export type FieldEntry<
  N extends string = string,
  L extends string = string,
  B extends string = string,
  A extends Attribute<string, unknown> | undefined = Attribute<string, unknown> | undefined,
  R = unknown,
> = {
  name: N
  kind: 'list' | 'range'
  rank: number
  /** Campaign keys holding string lists, and keys holding nullable integer bounds. */
  listKeys: readonly L[]
  boundKeys: readonly B[]
  /** Normalises a list value so that admin input and SDK input compare equal (identity for ranges). */
  normalize(value: string): string
  /** The device-context attribute this field adds (undefined: it reads DeviceBase). */
  attribute: A
  compile(t: TargetingValues): R | undefined
  check(rule: R, d: DeviceView): boolean
  describe(rule: R, d: DeviceView): Described
  /** Its column in the reach sample; undefined when reach cannot estimate it. */
  reach: ReachColumn | undefined
}

/** A campaign's targeting as the table's generic code reads it (by key). */
export type TargetingValues = Readonly<Record<string, unknown>>

/** The wildcard that makes a targeting list match everything. */
const GLOB = '__GLOB__'
const NONE16 = -32768
const NONE32 = -2147483648
const DAY_MS = 86_400_000
const clamp32 = (v: number) => Math.max(-2147483647, Math.min(2147483647, Math.trunc(v)))
const text = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v)
const listed = (v: ReadonlySet<string> | undefined) => v && [...v]
const trimmed = (v: string) => v.trim()

/** The normalised set of a targeting list, or undefined when the list restricts nothing. */
function listOf(t: TargetingValues, key: string, normalize: (v: string) => string) {
  const values = (t[key] as readonly string[] | undefined) ?? []
  if (values.length === 0 || values.includes(GLOB)) return undefined
  return new Set(values.map(normalize)) as ReadonlySet<string>
}

type ListTargetKey<N extends string> = N extends `custom_target_${string}` ? N : `target_${N}`

type ListOptions<A, V> = {
  rank: number
  normalize?: (value: string) => string
  attribute: A
  /** The device's value this field compares (default: its own attribute). */
  value?: (d: DeviceView) => V
  /** Whether the device passes the compiled rule. */
  matches(rule: ListRule, value: V, d: DeviceView): boolean
  reach: ReachColumn | undefined
}

/** A list field `<base>` owning `target_<base>` (custom targets: `<base>`) and `detarget_<base>`. */
function listField<
  const N extends string,
  V extends string | ReadonlySet<string> | undefined,
  A extends Attribute<string, unknown> | undefined,
>(
  base: N,
  o: ListOptions<A, V>,
): FieldEntry<ListTargetKey<N>, ListTargetKey<N> | `detarget_${N}`, never, A, ListRule> {
  const include = (base.startsWith('custom_target_') ? base : `target_${base}`) as ListTargetKey<N>
  const exclude = `detarget_${base}` as const
  const normalize = o.normalize ?? trimmed
  const value = readerOf<V>(o)
  return {
    name: include,
    kind: 'list',
    rank: o.rank,
    listKeys: [include, exclude],
    boundKeys: [],
    normalize,
    attribute: o.attribute,
    compile(t: TargetingValues): ListRule | undefined {
      const rule = { include: listOf(t, include, normalize), exclude: listOf(t, exclude, normalize) }
      return rule.include || rule.exclude ? rule : undefined
    },
    check: (rule: ListRule, d: DeviceView) => o.matches(rule, value(d), d),
    describe: (rule: ListRule, d: DeviceView): Described => {
      const v = value(d)
      return {
        deviceValue: typeof v === 'string' || v === undefined ? v : listed(v as ReadonlySet<string>),
        target: rule.include && [...rule.include],
        detarget: rule.exclude && [...rule.exclude],
      }
    },
    reach: o.reach,
  }
}

type RangeOptions<A> = {
  rank: number
  /** The campaign keys' prefix: `target_<base>` / `detarget_<base>`, or `<base>` alone without exclusion. */
  excludable: boolean
  attribute: A
  /** The device's value this field compares (default: its own attribute). */
  value?: (d: DeviceView) => number | undefined
  reach: ReachColumn | undefined
}

type RangeKeys<N extends string, X extends boolean> = X extends true
  ? `target_${N}_min` | `target_${N}_max` | `detarget_${N}_min` | `detarget_${N}_max`
  : `${N}_min` | `${N}_max`

/** A range field: inclusive `_min`/`_max` bounds, and their `detarget_` twin when excludable. */
function rangeField<
  const N extends string,
  const X extends boolean,
  A extends Attribute<string, unknown> | undefined,
>(
  base: N,
  o: RangeOptions<A> & { excludable: X },
): FieldEntry<X extends true ? `target_${N}` : N, never, RangeKeys<N, X>, A, RangeRule> {
  const prefix = o.excludable ? `target_${base}` : base
  const keys = (
    o.excludable
      ? [`${prefix}_min`, `${prefix}_max`, `detarget_${base}_min`, `detarget_${base}_max`]
      : [`${prefix}_min`, `${prefix}_max`]
  ) as RangeKeys<N, X>[]
  const bound = (t: TargetingValues, key: string | undefined) =>
    key === undefined ? null : ((t[key] as number | null | undefined) ?? null)
  const value = readerOf<number | undefined>(o)
  return {
    name: prefix as X extends true ? `target_${N}` : N,
    kind: 'range',
    rank: o.rank,
    listKeys: [],
    boundKeys: keys,
    normalize: trimmed,
    attribute: o.attribute,
    compile(t: TargetingValues): RangeRule | undefined {
      const [min, max, dmin, dmax] = [0, 1, 2, 3].map((i) => bound(t, keys[i]))
      const rule = { min: min ?? null, max: max ?? null, dmin: dmin ?? null, dmax: dmax ?? null }
      const open = rule.min === null && rule.max === null && rule.dmin === null && rule.dmax === null
      return open ? undefined : rule
    },
    check: (rule: RangeRule, d: DeviceView) => ranged(rule, value(d)),
    describe: (r: RangeRule, d: DeviceView): Described => ({
      deviceValue: value(d),
      target: r.min !== null || r.max !== null ? { min: r.min, max: r.max } : undefined,
      detarget: r.dmin !== null || r.dmax !== null ? { min: r.dmin, max: r.dmax } : undefined,
    }),
    reach: o.reach,
  }
}

/** An attribute the field owns, read from the request by `fromRequest`. */
const attribute = <const K extends string, V>(key: K, fromRequest: (f: DeviceFacts) => V | undefined) =>
  ({ key, fromRequest }) satisfies Attribute<K, V>
/** An attribute from one request text field: blank is not sent, else normalised. */
const textAttribute = <const K extends string>(
  key: K,
  read: (f: DeviceFacts) => string | undefined,
  normalize: (v: string) => string,
) =>
  attribute(key, (f) => {
    const v = text(read(f))
    return v && normalize(v)
  })
/** How a field reads the device's value: its own reader, else the attribute it owns. */
function readerOf<V>(o: {
  value?: ((d: DeviceView) => V) | undefined
  attribute: Attribute<string, unknown> | undefined
}): (d: DeviceView) => V {
  if (o.value) return o.value
  const key = o.attribute?.key
  if (key === undefined) throw new Error('a targeting field needs an attribute or a value reader')
  return (d) => d[key] as V
}

/** A string attribute kept interned in the reach sample under the same name. */
const textColumn = (key: 'country' | 'gender' | 'language' | 'carrier' | 'region'): ReachColumn => ({
  array: 'u32',
  write: (seen, names) => names.intern(seen[key]),
  read: (stored, device, names) => {
    device[key] = names.strings[stored]
  },
})
/** A number attribute kept as an int32 in the reach sample (NONE32 = not sent). */
const intColumn = (key: 'os' | 'sdk'): ReachColumn => ({
  array: 'i32',
  write: (seen) => (seen[key] === undefined ? NONE32 : clamp32(seen[key])),
  read: (stored, device) => {
    device[key] = stored === NONE32 ? undefined : stored
  },
})
const customColumn = (i: 0 | 1 | 2): ReachColumn => ({
  array: 'u32',
  write: (seen, names) => names.internList(seen.customTargets[i]),
  read: (stored, device, names) => {
    ;(device.customTargets as unknown as (ReadonlySet<string> | undefined)[])[i] = names.lists[stored]
  },
})

/** The values of a comma-separated SDK list, trimmed; undefined when none. */
export function commaSet(value: string | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  return items.length === 0 ? undefined : new Set(items)
}

/** `ko-KR`, `ko_kr` and `KO` are all the language `ko`. */
function normalizeLanguage(value: string): string {
  return (value.split(/[-_]/)[0] ?? '').toLowerCase()
}

/** The province of a normalised "province district" region ('서울특별시 관악구' → '서울특별시'), else undefined. */
export function provinceOf(region: string | undefined): string | undefined {
  const space = region === undefined ? -1 : region.indexOf(' ')
  return space > 0 ? region?.slice(0, space) : undefined
}

const upper = (v: string) => v.trim().toUpperCase()
const genderOf = (v: string) => v.trim().toUpperCase().slice(0, 1)
const languageOf = (v: string) => normalizeLanguage(v.trim())
const carrierOf = (v: string) => normalizeCarrier(v.trim())
const regionOf = (v: string) => v.trim().replace(/\s+/g, ' ')

/** A custom target: the SDK's comma list `custom_target_<n>` against the campaign's list (any overlap). */
const customField = <const N extends 1 | 2 | 3>(n: N, rank: number) =>
  listField(`custom_target_${n}`, {
    rank,
    attribute: undefined,
    value: (d) => d.customTargets[n - 1],
    matches: multi,
    reach: customColumn((n - 1) as 0 | 1 | 2),
  })

/** Every targeting field, in wire order (see the comment at the top). */
export const TARGETING_TABLE = [
  listField('gender', {
    rank: 1,
    normalize: genderOf,
    attribute: textAttribute('gender', (f) => f.request.sex, genderOf),
    matches: single,
    reach: textColumn('gender'),
  }),
  listField('language', {
    rank: 3,
    normalize: languageOf,
    attribute: textAttribute('language', (f) => f.request.language?.split(',')[0], languageOf),
    // v1 serves language-targeted campaigns to a device that sends no language (docs/architecture.md §W2.1).
    matches: (rule, value: string | undefined) => value === undefined || single(rule, value),
    reach: textColumn('language'),
  }),
  listField('carrier', {
    rank: 7,
    normalize: carrierOf,
    attribute: textAttribute('carrier', (f) => f.request.carrier, carrierOf),
    matches: single,
    reach: textColumn('carrier'),
  }),
  listField('region', {
    rank: 8,
    normalize: regionOf,
    attribute: textAttribute('region', (f) => f.request.region, regionOf),
    matches: (rule, value: string | undefined, d) => regional(rule, value, d.province),
    reach: {
      array: 'u32',
      write: (seen, names) => names.intern(seen.region),
      read: (stored, device, names) => {
        device.region = names.strings[stored]
        device.province = names.provinces[stored]
      },
    },
  }),
  listField('country', {
    rank: 0,
    normalize: upper,
    // The request's country wins over the unit's; a global unit (no country) needs the request's.
    attribute: attribute('country', (f) => {
      const v = text(f.request.country) ?? text(f.unit.country)
      return v && upper(v)
    }),
    matches: single,
    reach: textColumn('country'),
  }),
  listField('unit', {
    rank: 5,
    attribute: undefined,
    value: (d) => String(d.unitId),
    matches: single,
    reach: {
      array: 'i32',
      write: (seen) => clamp32(seen.unitId),
      read: (stored, device) => {
        device.unitId = stored
      },
    },
  }),
  listField('app_id', {
    rank: 6,
    attribute: undefined,
    value: (d) => String(d.appId),
    matches: single,
    reach: {
      array: 'i32',
      write: (seen) => clamp32(seen.appId),
      read: (stored, device) => {
        device.appId = stored
      },
    },
  }),
  appField('target_app', 14),
  appField('detarget_app', 15),
  customField(1, 11),
  customField(2, 12),
  customField(3, 13),
  rangeField('age', {
    rank: 2,
    excludable: true,
    attribute: attribute('age', (f) =>
      f.request.year_of_birth === undefined ? undefined : targetAge(f.localYear(), f.request.year_of_birth),
    ),
    reach: {
      array: 'i16',
      write: (seen) =>
        seen.yearOfBirth === undefined ? NONE16 : Math.max(-32767, Math.min(32767, seen.yearOfBirth)),
      // Reads after `unit` (table order): the age is counted in the unit's local year.
      read: (stored, device, _names, at) => {
        device.age = stored === NONE16 ? undefined : targetAge(at.year(device.unitId), stored)
      },
    },
  }),
  rangeField('os', {
    rank: 4,
    excludable: true,
    attribute: attribute('os', (f) => f.request.device_os),
    reach: intColumn('os'),
  }),
  rangeField('sdk', {
    rank: 9,
    excludable: true,
    attribute: attribute('sdk', (f) => (f.request.sdk_version === 0 ? undefined : f.request.sdk_version)),
    reach: intColumn('sdk'),
  }),
  rangeField('registered_days', {
    rank: 10,
    excludable: false,
    attribute: attribute('registeredDays', (f) => {
      const date = f.request.registered_date
      const at = date !== undefined && date > 0 ? date * 1000 : f.registeredAt
      return at === undefined ? undefined : Math.floor(Math.max(0, f.now - at) / DAY_MS)
    }),
    reach: {
      array: 'u32',
      write: (seen) =>
        seen.registeredAt === undefined ? 0 : Math.max(1, Math.floor(seen.registeredAt / 1000)),
      read: (stored, device, _names, at) => {
        device.registeredDays =
          stored === 0 ? undefined : Math.floor(Math.max(0, at.now - stored * 1000) / DAY_MS)
      },
    },
  }),
] as const

/**
 * `target_app` (installed packages: plain entries need one installed, `-pkg` entries need it absent) and
 * `detarget_app` (none of these installed). Reach keeps no packages per device, so it cannot estimate them.
 */
type AppRule = { required: readonly string[]; forbidden: readonly string[] }
function appField<const N extends 'target_app' | 'detarget_app'>(
  name: N,
  rank: number,
): FieldEntry<N, N, never, undefined, AppRule> {
  return {
    name,
    kind: 'list',
    rank,
    listKeys: [name],
    boundKeys: [],
    // Installed-package entries keep their leading '-' (negation).
    normalize: trimmed,
    attribute: undefined,
    compile(t: TargetingValues): AppRule | undefined {
      const apps = listOf(t, name, trimmed)
      if (!apps) return undefined
      if (name === 'detarget_app') return { required: [], forbidden: [...apps] }
      const required = [...apps].filter((p) => !p.startsWith('-'))
      return { required, forbidden: [...apps].filter((p) => p.startsWith('-')).map((p) => p.slice(1)) }
    },
    check: (r: AppRule, d: DeviceView) =>
      name === 'detarget_app'
        ? !anyInstalled(r.forbidden, d.installedPackages)
        : installed(r.required, r.forbidden, d.installedPackages),
    describe: (r: AppRule, d: DeviceView): Described =>
      name === 'detarget_app'
        ? { deviceValue: listed(d.installedPackages), target: undefined, detarget: [...r.forbidden] }
        : {
            deviceValue: listed(d.installedPackages),
            target: [...r.required, ...r.forbidden.map((p) => `-${p}`)],
            detarget: undefined,
          },
    reach: undefined,
  }
}

type Entry = (typeof TARGETING_TABLE)[number]

/** A targeting field, named after its inclusion rule (ranges: `target_<name>`; `detarget_app` stands alone). */
export type TargetingField = Entry['name']
type ListKey = Entry['listKeys'][number]
type BoundKey = Entry['boundKeys'][number]
type OwnedAttribute = Exclude<Entry['attribute'], undefined>

/** A campaign's targeting: every list field's keys as string lists, every range's bounds (docs/architecture.md §6). */
export type Targeting = { [K in ListKey]: string[] } & { [K in BoundKey]: number | null }

/** What one allocation request proves about the device; an absent attribute is `undefined`. */
export type DeviceContext = DeviceBase & {
  [A in OwnedAttribute as A['key']]?: Exclude<ReturnType<A['fromRequest']>, undefined> | undefined
}

/** Every campaign key that holds a targeting list, in wire order. */
export const TARGETING_LIST_KEYS: readonly ListKey[] = TARGETING_TABLE.flatMap((e) => e.listKeys)
/** Every campaign key that holds a targeting bound, in wire order. */
export const TARGETING_BOUND_KEYS: readonly BoundKey[] = TARGETING_TABLE.flatMap((e) => e.boundKeys)

/** Every range's `[min, max]` key pairs (inclusion, then exclusion), in wire order. */
export const TARGETING_RANGES: readonly (readonly [BoundKey, BoundKey])[] = TARGETING_BOUND_KEYS.flatMap(
  (key, i) => (i % 2 === 0 ? [[key, TARGETING_BOUND_KEYS[i + 1] as BoundKey] as const] : []),
)

/** A campaign's targeting that restricts nothing (every list empty, every bound open), in wire order. */
export function emptyTargeting(): Targeting {
  return Object.fromEntries([
    ...TARGETING_LIST_KEYS.map((k) => [k, []]),
    ...TARGETING_BOUND_KEYS.map((k) => [k, null]),
  ]) as Targeting
}

/** The table's entries in matching order (most selective first). */
export const FIELDS_BY_RANK: readonly FieldEntry[] = [...TARGETING_TABLE].sort((a, b) => a.rank - b.rank)

/** The device context an allocation request proves: every field's attribute, then what fields share. */
export function deviceContext(f: DeviceFacts): DeviceContext {
  const d: DeviceView = {
    unitId: f.unit.id,
    appId: f.request.app_id ?? f.unit.app_id,
    customTargets: NO_CUSTOM,
  }
  for (const e of TARGETING_TABLE) if (e.attribute) d[e.attribute.key] = e.attribute.fromRequest(f)
  d.province = provinceOf(d.region as string | undefined)
  d.installedPackages = f.installed
  d.customTargets = [
    commaSet(f.request.custom_target_1),
    commaSet(f.request.custom_target_2),
    commaSet(f.request.custom_target_3),
  ]
  return d as DeviceContext
}
const NO_CUSTOM = [undefined, undefined, undefined] as const

/** A targeted attribute the device does not carry fails; an exclusion on it excludes nothing. */
function single(r: ListRule, value: string | undefined): boolean {
  if (r.include !== undefined && (value === undefined || !r.include.has(value))) return false
  return r.exclude === undefined || value === undefined || !r.exclude.has(value)
}

/** A province entry matches every district in it; a "province district" entry matches exactly. */
function regional(r: ListRule, value: string | undefined, known: string | undefined): boolean {
  if (value === undefined) return r.include === undefined
  const province = known ?? provinceOf(value)
  if (r.include !== undefined && !regionHit(r.include, value, province)) return false
  return r.exclude === undefined || !regionHit(r.exclude, value, province)
}

function regionHit(list: ReadonlySet<string>, region: string, province: string | undefined): boolean {
  return list.has(region) || (province !== undefined && list.has(province))
}

/** Multi-valued attributes: any overlap matches (OR within a field). */
function multi(r: ListRule, values: ReadonlySet<string> | undefined): boolean {
  if (r.include !== undefined && (values === undefined || !multiHits(r.include, values))) return false
  return r.exclude === undefined || !multiHits(r.exclude, values)
}

function multiHits(list: ReadonlySet<string>, values: ReadonlySet<string> | undefined): boolean {
  if (values === undefined) return false
  for (const v of values) if (list.has(v)) return true
  return false
}

function anyInstalled(packages: readonly string[], apps: ReadonlySet<string> | undefined): boolean {
  if (apps === undefined) return false
  for (const p of packages) if (apps.has(p)) return true
  return false
}

/** `target_app`: plain entries need one of them installed, `-pkg` entries need that package absent. */
function installed(
  required: readonly string[],
  forbidden: readonly string[],
  apps: ReadonlySet<string> | undefined,
) {
  if (apps === undefined) return false
  for (const p of forbidden) if (apps.has(p)) return false
  if (required.length === 0) return true
  for (const p of required) if (apps.has(p)) return true
  return false
}

function ranged(r: RangeRule, value: number | undefined): boolean {
  const hasInclusion = r.min !== null || r.max !== null
  if (value === undefined) return !hasInclusion
  if (hasInclusion && ((r.min !== null && value < r.min) || (r.max !== null && value > r.max))) return false
  const hasExclusion = r.dmin !== null || r.dmax !== null
  return !(hasExclusion && (r.dmin === null || value >= r.dmin) && (r.dmax === null || value <= r.dmax))
}
