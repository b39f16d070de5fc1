import type { Campaign, ContentCategory, ContentChannel, Unit } from './catalog.js'
import { buildCampaignIndex, type CampaignIndex } from './catalog-index.js'
import { compileTargeting, type TargetingPredicate } from './targeting.js'

/** A campaign with its targeting compiled once per snapshot. */
export type CatalogEntry = {
  campaign: Campaign
  matches: TargetingPredicate
  /** week_slot as a 168-entry lookup table (1 = allowed); undefined = every hour. */
  slots: Uint8Array | undefined
}

/** Compiles one campaign for the snapshot. */
export function catalogEntry(campaign: Campaign): CatalogEntry {
  let slots: Uint8Array | undefined
  if (campaign.week_slot.length > 0) {
    slots = new Uint8Array(168)
    for (const s of campaign.week_slot) slots[s] = 1
  }
  return { campaign, matches: compileTargeting(campaign), slots }
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
  const entries = campaigns.map(catalogEntry)
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
