import { normalizeCarrier } from './carrier.js'
import { type Campaign, detargetKey, GLOB, type ListTarget, targetKey } from './catalog.js'

/** What one allocation request proves about the device; an absent attribute is `undefined`. */
export type DeviceContext = {
  unitId: number
  appId: number
  age?: number | undefined
  gender?: string | undefined
  language?: string | undefined
  carrier?: string | undefined
  region?: string | undefined
  /** The province of a "province district" region, computed once per device (see provinceOf). */
  province?: string | undefined
  country?: string | undefined
  os?: number | undefined
  sdk?: number | undefined
  registeredDays?: number | undefined
  installedPackages?: ReadonlySet<string> | undefined
  customTargets: readonly [
    ReadonlySet<string> | undefined,
    ReadonlySet<string> | undefined,
    ReadonlySet<string> | undefined,
  ]
}

/**
 * A campaign's targeting compiled once per snapshot into a single predicate, which can also say which
 * field a device fails (the decision explainer and the reach estimate), with the same checks.
 */
export type TargetingPredicate = ((device: DeviceContext) => boolean) & {
  /** The first field, in matching order, that the device fails; undefined when it matches. */
  firstMissField(device: DeviceContext): TargetingField | undefined
  /** The first field the device fails with the values involved; undefined when it matches. */
  firstMiss(device: DeviceContext): TargetingMiss | undefined
  /** The fields this campaign restricts, in matching order. */
  readonly fields: readonly TargetingField[]
}

type Bounds = { min: number | null; max: number | null }

/** Why a device misses a campaign's targeting: the field, the device's value and the campaign's rule. */
export type TargetingMiss = {
  field: TargetingField
  /** What the request proved about the device for this field (undefined = not sent). */
  deviceValue: string | number | readonly string[] | undefined
  /** The inclusion list or range (undefined = none). */
  target: readonly string[] | Bounds | undefined
  /** The exclusion list or range (undefined = none). */
  detarget: readonly string[] | Bounds | undefined
}

/** Normalises a value of a list target so that admin input and SDK input compare equal. */
export function normalizeTargetValue(name: ListTarget, value: string): string {
  const v = value.trim()
  switch (name) {
    case 'gender':
      return v.toUpperCase().slice(0, 1)
    case 'country':
      return v.toUpperCase()
    case 'language':
      return normalizeLanguage(v)
    case 'carrier':
      return normalizeCarrier(v)
    case 'region':
      return v.replace(/\s+/g, ' ')
    default:
      return v
  }
}

/** `ko-KR`, `ko_kr` and `KO` are all the language `ko`. */
export function normalizeLanguage(value: string): string {
  return (value.split(/[-_]/)[0] ?? '').toLowerCase()
}

/** One list target: the normalised inclusion and exclusion sets (undefined = no restriction). */
type ListRule = { include: ReadonlySet<string> | undefined; exclude: ReadonlySet<string> | undefined }
/** One range target: inclusive inclusion and exclusion bounds (null = open). */
type RangeRule = { min: number | null; max: number | null; dmin: number | null; dmax: number | null }

/**
 * A campaign's targeting as data of one fixed shape (every key present, undefined = no rule), checked by
 * one function with plain property reads: allocation runs it for thousands of candidates per request,
 * and a single monomorphic matcher is several times faster than a chain of generic closures.
 */
type TargetingSpec = {
  gender: ListRule | undefined
  language: ListRule | undefined
  carrier: ListRule | undefined
  region: ListRule | undefined
  country: ListRule | undefined
  unit: ListRule | undefined
  appId: ListRule | undefined
  custom1: ListRule | undefined
  custom2: ListRule | undefined
  custom3: ListRule | undefined
  appRequired: readonly string[] | undefined
  appForbidden: readonly string[] | undefined
  appExcluded: ReadonlySet<string> | undefined
  age: RangeRule | undefined
  os: RangeRule | undefined
  sdk: RangeRule | undefined
  registeredDays: RangeRule | undefined
}

/** Compiles every targeting field and its exclusion twin into one predicate (DESIGN §2.1). */
export function compileTargeting(campaign: Campaign): TargetingPredicate {
  const rule = (name: ListTarget): ListRule | undefined => {
    const include = listOf(campaign, targetKey(name), name)
    const exclude = listOf(campaign, detargetKey(name), name)
    return include || exclude ? { include, exclude } : undefined
  }
  const range = (min: number | null, max: number | null, dmin: number | null, dmax: number | null) =>
    min === null && max === null && dmin === null && dmax === null ? undefined : { min, max, dmin, dmax }
  const apps = listOf(campaign, targetKey('app'), 'app')
  const spec: TargetingSpec = {
    gender: rule('gender'),
    language: rule('language'),
    carrier: rule('carrier'),
    region: rule('region'),
    country: rule('country'),
    unit: rule('unit'),
    appId: rule('app_id'),
    custom1: rule('custom_target_1'),
    custom2: rule('custom_target_2'),
    custom3: rule('custom_target_3'),
    appRequired: apps && [...apps].filter((p) => !p.startsWith('-')),
    appForbidden: apps && [...apps].filter((p) => p.startsWith('-')).map((p) => p.slice(1)),
    appExcluded: listOf(campaign, detargetKey('app'), 'app'),
    age: range(
      campaign.target_age_min,
      campaign.target_age_max,
      campaign.detarget_age_min,
      campaign.detarget_age_max,
    ),
    os: range(
      campaign.target_os_min,
      campaign.target_os_max,
      campaign.detarget_os_min,
      campaign.detarget_os_max,
    ),
    sdk: range(
      campaign.target_sdk_min,
      campaign.target_sdk_max,
      campaign.detarget_sdk_min,
      campaign.detarget_sdk_max,
    ),
    registeredDays: range(campaign.registered_days_min, campaign.registered_days_max, null, null),
  }
  const fields = TARGETING_FIELDS.filter((f) => FIELDS[f].restricts(spec))
  const matches = fields.length > 0 ? (device: DeviceContext) => matchesSpec(spec, device) : () => true
  const firstMissField = (device: DeviceContext): TargetingField | undefined => {
    for (const f of fields) if (!FIELDS[f].check(spec, device)) return f
    return undefined
  }
  return Object.assign(matches, {
    fields,
    firstMissField,
    firstMiss(device: DeviceContext): TargetingMiss | undefined {
      const field = firstMissField(device)
      return field && { field, ...FIELDS[field].describe(spec, device) }
    },
  })
}

type Described = Omit<TargetingMiss, 'field'>
type Field = {
  /** Whether the campaign restricts this field at all. */
  restricts(s: TargetingSpec): boolean
  /** Whether the device passes this field (true when the field restricts nothing). */
  check(s: TargetingSpec, d: DeviceContext): boolean
  /** The device's value and the campaign's rule, for an explanation. */
  describe(s: TargetingSpec, d: DeviceContext): Described
}

const listRule = (r: ListRule | undefined, value: Described['deviceValue']): Described => ({
  deviceValue: value,
  target: r?.include && [...r.include],
  detarget: r?.exclude && [...r.exclude],
})
const rangeRule = (r: RangeRule | undefined, value: number | undefined): Described => ({
  deviceValue: value,
  target: r && (r.min !== null || r.max !== null) ? { min: r.min, max: r.max } : undefined,
  detarget: r && (r.dmin !== null || r.dmax !== null) ? { min: r.dmin, max: r.dmax } : undefined,
})
const listed = (v: ReadonlySet<string> | undefined) => v && [...v]

/**
 * Every targeting field with its check, in the order matching applies them (most selective first).
 * matchesSpec (allocation) and firstMissField (the explainer, the reach estimate) run these same checks.
 */
const FIELDS = {
  target_country: {
    restricts: (s) => s.country !== undefined,
    check: (s, d) => s.country === undefined || single(s.country, d.country),
    describe: (s, d) => listRule(s.country, d.country),
  },
  target_gender: {
    restricts: (s) => s.gender !== undefined,
    check: (s, d) => s.gender === undefined || single(s.gender, d.gender),
    describe: (s, d) => listRule(s.gender, d.gender),
  },
  target_age: {
    restricts: (s) => s.age !== undefined,
    check: (s, d) => s.age === undefined || ranged(s.age, d.age),
    describe: (s, d) => rangeRule(s.age, d.age),
  },
  target_language: {
    restricts: (s) => s.language !== undefined,
    // v1 serves language-targeted campaigns to a device that sends no language (SDK-CONTRACT §2.1).
    check: (s, d) => s.language === undefined || d.language === undefined || single(s.language, d.language),
    describe: (s, d) => listRule(s.language, d.language),
  },
  target_os: {
    restricts: (s) => s.os !== undefined,
    check: (s, d) => s.os === undefined || ranged(s.os, d.os),
    describe: (s, d) => rangeRule(s.os, d.os),
  },
  target_unit: {
    restricts: (s) => s.unit !== undefined,
    check: (s, d) => s.unit === undefined || single(s.unit, String(d.unitId)),
    describe: (s, d) => listRule(s.unit, String(d.unitId)),
  },
  target_app_id: {
    restricts: (s) => s.appId !== undefined,
    check: (s, d) => s.appId === undefined || single(s.appId, String(d.appId)),
    describe: (s, d) => listRule(s.appId, String(d.appId)),
  },
  target_carrier: {
    restricts: (s) => s.carrier !== undefined,
    check: (s, d) => s.carrier === undefined || single(s.carrier, d.carrier),
    describe: (s, d) => listRule(s.carrier, d.carrier),
  },
  target_region: {
    restricts: (s) => s.region !== undefined,
    check: (s, d) => s.region === undefined || regional(s.region, d.region, d.province),
    describe: (s, d) => listRule(s.region, d.region),
  },
  target_sdk: {
    restricts: (s) => s.sdk !== undefined,
    check: (s, d) => s.sdk === undefined || ranged(s.sdk, d.sdk),
    describe: (s, d) => rangeRule(s.sdk, d.sdk),
  },
  registered_days: {
    restricts: (s) => s.registeredDays !== undefined,
    check: (s, d) => s.registeredDays === undefined || ranged(s.registeredDays, d.registeredDays),
    describe: (s, d) => rangeRule(s.registeredDays, d.registeredDays),
  },
  custom_target_1: {
    restricts: (s) => s.custom1 !== undefined,
    check: (s, d) => s.custom1 === undefined || multi(s.custom1, d.customTargets[0]),
    describe: (s, d) => listRule(s.custom1, listed(d.customTargets[0])),
  },
  custom_target_2: {
    restricts: (s) => s.custom2 !== undefined,
    check: (s, d) => s.custom2 === undefined || multi(s.custom2, d.customTargets[1]),
    describe: (s, d) => listRule(s.custom2, listed(d.customTargets[1])),
  },
  custom_target_3: {
    restricts: (s) => s.custom3 !== undefined,
    check: (s, d) => s.custom3 === undefined || multi(s.custom3, d.customTargets[2]),
    describe: (s, d) => listRule(s.custom3, listed(d.customTargets[2])),
  },
  target_app: {
    restricts: (s) => s.appRequired !== undefined,
    check: (s, d) =>
      s.appRequired === undefined || installed(s.appRequired, s.appForbidden ?? [], d.installedPackages),
    describe: (s, d) => ({
      deviceValue: listed(d.installedPackages),
      target: [...(s.appRequired ?? []), ...(s.appForbidden ?? []).map((p) => `-${p}`)],
      detarget: undefined,
    }),
  },
  detarget_app: {
    restricts: (s) => s.appExcluded !== undefined,
    check: (s, d) => s.appExcluded === undefined || !multiHits(s.appExcluded, d.installedPackages),
    describe: (s, d) => ({
      deviceValue: listed(d.installedPackages),
      target: undefined,
      detarget: s.appExcluded && [...s.appExcluded],
    }),
  },
} satisfies Record<string, Field>

/** A targeting field, named after its inclusion rule (ranges: `target_<name>`; `detarget_app` stands alone). */
export type TargetingField = keyof typeof FIELDS
/** Every targeting field in the order matching checks them. */
export const TARGETING_FIELDS = Object.keys(FIELDS) as TargetingField[]

/** Every field's check in one expression: the hot path (no loop over the fields, no array). */
function matchesSpec(s: TargetingSpec, d: DeviceContext): boolean {
  const f = FIELDS
  return (
    f.target_country.check(s, d) &&
    f.target_gender.check(s, d) &&
    f.target_age.check(s, d) &&
    f.target_language.check(s, d) &&
    f.target_os.check(s, d) &&
    f.target_unit.check(s, d) &&
    f.target_app_id.check(s, d) &&
    f.target_carrier.check(s, d) &&
    f.target_region.check(s, d) &&
    f.target_sdk.check(s, d) &&
    f.registered_days.check(s, d) &&
    f.custom_target_1.check(s, d) &&
    f.custom_target_2.check(s, d) &&
    f.custom_target_3.check(s, d) &&
    f.target_app.check(s, d) &&
    f.detarget_app.check(s, d)
  )
}

/** A targeted attribute the device does not carry fails; an exclusion on it excludes nothing. */
function single(r: ListRule, value: string | undefined): boolean {
  if (r.include !== undefined && (value === undefined || !r.include.has(value))) return false
  return r.exclude === undefined || value === undefined || !r.exclude.has(value)
}

/** The province of a normalised "province district" region ('서울특별시 관악구' → '서울특별시'), else undefined. */
export function provinceOf(region: string | undefined): string | undefined {
  const space = region === undefined ? -1 : region.indexOf(' ')
  return space > 0 ? region?.slice(0, space) : undefined
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

/** The normalised set of a targeting list, or undefined when the list restricts nothing. */
function listOf(campaign: Campaign, key: string, name: ListTarget): ReadonlySet<string> | undefined {
  const values = (campaign as unknown as Record<string, string[]>)[key] ?? []
  if (values.length === 0 || values.includes(GLOB)) return undefined
  // Installed-package entries keep their leading '-' (negation); the rest are normalised.
  return new Set(values.map((v) => (name === 'app' ? v.trim() : normalizeTargetValue(name, v))))
}
