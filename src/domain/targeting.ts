import { normalizeCarrier } from './carrier.js'
import {
  type Campaign,
  detargetKey,
  GLOB,
  LIST_TARGETS,
  type ListTarget,
  RANGE_TARGETS,
  type RangeTarget,
  targetKey,
} from './catalog.js'

/** What one allocation request proves about the device; an absent attribute is `undefined`. */
export type DeviceContext = {
  unitId: number
  appId: number
  age?: number | undefined
  gender?: string | undefined
  language?: string | undefined
  carrier?: string | undefined
  region?: string | undefined
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

/** A campaign's targeting compiled once per catalog snapshot into a single predicate. */
export type TargetingPredicate = (device: DeviceContext) => boolean

type Check = (device: DeviceContext) => boolean

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

/** Compiles every targeting field and its exclusion twin into one predicate (DESIGN §2.1). */
export function compileTargeting(campaign: Campaign): TargetingPredicate {
  const checks: Check[] = []
  for (const name of LIST_TARGETS) {
    const include = listOf(campaign, targetKey(name), name)
    const exclude = listOf(campaign, detargetKey(name), name)
    const read = listReader(name)
    const matches = name === 'region' ? regionMatcher : setMatcher
    if (include) {
      const included = name === 'app' ? appInclusion(include) : undefined
      if (included) checks.push(included)
      else checks.push((d) => anyMatch(read(d), include, matches) === true)
    }
    if (exclude) checks.push((d) => anyMatch(read(d), exclude, matches) !== true)
  }
  for (const name of RANGE_TARGETS) {
    const read = rangeReader(name)
    const min = campaign[`target_${name}_min`]
    const max = campaign[`target_${name}_max`]
    if (min !== null || max !== null) checks.push((d) => inRange(read(d), min, max) === true)
    const dmin = campaign[`detarget_${name}_min`]
    const dmax = campaign[`detarget_${name}_max`]
    if (dmin !== null || dmax !== null) checks.push((d) => inRange(read(d), dmin, dmax) !== true)
  }
  const { registered_days_min: rmin, registered_days_max: rmax } = campaign
  if (rmin !== null || rmax !== null) checks.push((d) => inRange(d.registeredDays, rmin, rmax) === true)

  if (checks.length === 0) return () => true
  return (device) => {
    for (const check of checks) if (!check(device)) return false
    return true
  }
}

/** The normalised set of a targeting list, or undefined when the list restricts nothing. */
function listOf(campaign: Campaign, key: string, name: ListTarget): ReadonlySet<string> | undefined {
  const values = (campaign as unknown as Record<string, string[]>)[key] ?? []
  if (values.length === 0 || values.includes(GLOB)) return undefined
  // Installed-package entries keep their leading '-' (negation); the rest are normalised.
  return new Set(values.map((v) => (name === 'app' ? v.trim() : normalizeTargetValue(name, v))))
}

type Reader = (d: DeviceContext) => Iterable<string> | undefined

function listReader(name: ListTarget): Reader {
  switch (name) {
    case 'unit':
      return (d) => [String(d.unitId)]
    case 'app_id':
      return (d) => [String(d.appId)]
    case 'app':
      return (d) => d.installedPackages
    case 'custom_target_1':
      return (d) => d.customTargets[0]
    case 'custom_target_2':
      return (d) => d.customTargets[1]
    case 'custom_target_3':
      return (d) => d.customTargets[2]
    default:
      return (d) => {
        const value = d[name]
        return value === undefined ? undefined : [value]
      }
  }
}

type Matcher = (deviceValue: string, list: ReadonlySet<string>) => boolean

const setMatcher: Matcher = (value, list) => list.has(value)

/** A province entry matches every district in it; a "province district" entry matches exactly. */
const regionMatcher: Matcher = (value, list) => {
  if (list.has(value)) return true
  const space = value.indexOf(' ')
  return space > 0 && list.has(value.slice(0, space))
}

/** true if any device value is in the list; undefined if the device does not carry the attribute. */
function anyMatch(values: Iterable<string> | undefined, list: ReadonlySet<string>, matches: Matcher) {
  if (values === undefined) return undefined
  for (const v of values) if (matches(v, list)) return true
  return false
}

/** `target_app`: plain entries need one of them installed, `-pkg` entries need that package absent. */
function appInclusion(list: ReadonlySet<string>): Check | undefined {
  const required = [...list].filter((p) => !p.startsWith('-'))
  const forbidden = [...list].filter((p) => p.startsWith('-')).map((p) => p.slice(1))
  return (d) => {
    const installed = d.installedPackages
    if (installed === undefined) return false
    if (forbidden.some((p) => installed.has(p))) return false
    return required.length === 0 || required.some((p) => installed.has(p))
  }
}

function rangeReader(name: RangeTarget): (d: DeviceContext) => number | undefined {
  return (d) => d[name]
}

function inRange(value: number | undefined, min: number | null, max: number | null): boolean | undefined {
  if (value === undefined) return undefined
  return (min === null || value >= min) && (max === null || value <= max)
}
