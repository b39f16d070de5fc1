import { GLOB, type ServedCampaign } from './catalog.js'
import { normalizeTargetValue } from './targeting.js'

/**
 * An index of campaigns by the two attributes nearly every targeting uses, unit and country, so an
 * allocation only looks at campaigns that could match: those for this unit or any unit, and for this
 * country or any country. Each campaign sits in exactly one unit group and one country group, so for one
 * request it is visited at most once.
 */
export type CampaignIndex<T> = {
  /** The buckets to scan for a request on `unitId` from `country` (undefined = not sent). */
  buckets(unitId: number, country: string | undefined): readonly (readonly T[])[]
  readonly size: number
}

type ByCountry<T> = { any: T[]; byCountry: Map<string, T[]> }

/** Files `item` in `group`: under every country it targets, or under any country. */
function place<T>(group: ByCountry<T>, countries: string[] | undefined, item: T): void {
  if (!countries) group.any.push(item)
  else for (const country of new Set(countries)) push(group.byCountry, country, item)
}

function sortGroup<T>(group: ByCountry<T>, order: (a: T, b: T) => number): void {
  group.any.sort(order)
  for (const list of group.byCountry.values()) list.sort(order)
}

/**
 * Builds the unit × country index over `items`; `campaignOf` reads the campaign of an item. With `order`,
 * every bucket is sorted by it (stable), so a scan can stop early (ads: by priority).
 */
export function buildCampaignIndex<T>(
  items: readonly T[],
  campaignOf: (item: T) => ServedCampaign,
  order?: (a: T, b: T) => number,
): CampaignIndex<T> {
  const anyUnit: ByCountry<T> = { any: [], byCountry: new Map() }
  const byUnit = new Map<string, ByCountry<T>>()
  for (const item of items) {
    const c = campaignOf(item)
    const units = restricting(c.target_unit)
    const countries = restricting(c.target_country)?.map((v) => normalizeTargetValue('country', v))
    const groups = units ? [...new Set(units.map((u) => u.trim()))].map((u) => groupOf(byUnit, u)) : [anyUnit]
    for (const group of groups) place(group, countries, item)
  }
  if (order) for (const g of [anyUnit, ...byUnit.values()]) sortGroup(g, order)
  const EMPTY: T[] = []
  return {
    size: items.length,
    buckets(unitId, country) {
      const unit = byUnit.get(String(unitId))
      const lists: T[][] = [anyUnit.any]
      if (country !== undefined) lists.push(anyUnit.byCountry.get(country) ?? EMPTY)
      if (unit) {
        lists.push(unit.any)
        if (country !== undefined) lists.push(unit.byCountry.get(country) ?? EMPTY)
      }
      return lists
    },
  }
}

function restricting(list: readonly string[]): readonly string[] | undefined {
  return list.length === 0 || list.includes(GLOB) ? undefined : list
}

function groupOf<T>(byUnit: Map<string, ByCountry<T>>, unit: string): ByCountry<T> {
  let group = byUnit.get(unit)
  if (!group) {
    group = { any: [], byCountry: new Map() }
    byUnit.set(unit, group)
  }
  return group
}

function push<T>(map: Map<string, T[]>, key: string, item: T): void {
  const list = map.get(key)
  if (list) list.push(item)
  else map.set(key, [item])
}
