import type { Campaign, ContentCategory, ContentChannel, Unit } from './catalog.js'
import { buildCampaignIndex, type CampaignIndex } from './catalog-index.js'
import {
  compileTargeting,
  type TargetingCache,
  type TargetingPredicate,
  targetingCache,
} from './targeting.js'

/** A campaign with its targeting compiled once per snapshot. */
export type CatalogEntry = {
  campaign: Campaign
  matches: TargetingPredicate
  /** week_slot as a 168-entry lookup table (1 = allowed); undefined = every hour. */
  slots: Uint8Array | undefined
}

/** What the entries of one snapshot share: compiled targetings, and week_slot tables by their hours. */
type EntryCache = TargetingCache & { slots: Map<string, Uint8Array> }

/** Compiles one campaign for the snapshot; with `cache`, sharing what an earlier campaign compiled alike. */
export function catalogEntry(campaign: Campaign, cache?: EntryCache): CatalogEntry {
  return { campaign, matches: compileTargeting(campaign, cache), slots: slotsOf(campaign.week_slot, cache) }
}

function slotsOf(weekSlot: readonly number[], cache: EntryCache | undefined): Uint8Array | undefined {
  if (weekSlot.length === 0) return undefined
  const key = weekSlot.join(',')
  const found = cache?.slots.get(key)
  if (found) return found
  const slots = new Uint8Array(168)
  for (const s of weekSlot) slots[s] = 1
  cache?.slots.set(key, slots)
  return slots
}

/** An immutable view of the servable catalog; allocation never touches the database. */
export type CatalogSnapshot = {
  readonly version: number
  readonly loadedAt: number
  readonly units: ReadonlyMap<number, Unit>
  readonly ads: readonly CatalogEntry[]
  readonly contents: readonly CatalogEntry[]
  readonly adIndex: CampaignIndex<CatalogEntry>
  readonly contentIndex: CampaignIndex<CatalogEntry>
  readonly categories: readonly ContentCategory[]
  readonly channels: readonly ContentChannel[]
  readonly channelsById: ReadonlyMap<number, ContentChannel>
  /** Each app's lockscreen unit (lowest id), for requests that name only `app_id`. */
  readonly lockscreenUnitsByApp: ReadonlyMap<number, Unit>
  /** Whether any campaign targets installed packages (only then does allocation read them). */
  readonly usesAppTargeting: boolean
}

export type SnapshotInput = {
  version: number
  loadedAt: number
  units: Unit[]
  campaigns: Campaign[]
  categories: ContentCategory[]
  channels: ContentChannel[]
}

/** Builds an immutable, indexed snapshot (also used by tests to feed the allocation service). */
export function catalogSnapshot({
  version,
  loadedAt,
  units,
  campaigns,
  categories,
  channels,
}: SnapshotInput): CatalogSnapshot {
  const cache: EntryCache = { ...targetingCache(), slots: new Map() }
  const entries = campaigns.map((c) => catalogEntry(c, cache))
  const ads = entries.filter((e) => e.campaign.is_ad)
  const contents = entries.filter((e) => !e.campaign.is_ad)
  const lockscreenUnitsByApp = new Map<number, Unit>()
  for (const u of [...units].sort((a, b) => a.id - b.id))
    if (u.unit_type === 'lockscreen' && !lockscreenUnitsByApp.has(u.app_id))
      lockscreenUnitsByApp.set(u.app_id, u)
  return Object.freeze({
    version,
    loadedAt,
    units: new Map(units.map((u) => [u.id, u])),
    lockscreenUnitsByApp,
    channelsById: new Map(channels.map((c) => [c.id, c])),
    usesAppTargeting: campaigns.some((c) => c.target_app.length > 0 || c.detarget_app.length > 0),
    ads,
    contents,
    // Ad buckets by priority, highest first: allocation stops after the tiers that fill the pool.
    adIndex: buildCampaignIndex(
      ads,
      (e) => e.campaign,
      (a, b) => b.campaign.first_display_priority - a.campaign.first_display_priority,
    ),
    contentIndex: buildCampaignIndex(contents, (e) => e.campaign),
    categories,
    channels,
  })
}
