import type { Campaign, ContentCategory, ContentChannel, ServedCampaign, Unit } from './catalog.js'
import { buildCampaignIndex, type CampaignIndex } from './catalog-index.js'
import {
  compileTargeting,
  type TargetingCache,
  type TargetingPredicate,
  targetingCache,
} from './targeting.js'

/** A campaign with its targeting compiled once per snapshot. */
export type CatalogEntry = {
  campaign: ServedCampaign
  targeting: TargetingPredicate
  /** week_slot as a 168-entry lookup table (1 = allowed); undefined = every hour. */
  slots: Uint8Array | undefined
}

/** What the entries of one snapshot share: compiled targetings, and week_slot tables by their hours. */
type EntryCache = TargetingCache & { slots: Map<string, Uint8Array> }

/** Compiles one campaign for the snapshot; with `cache`, sharing what an earlier campaign compiled alike. */
export function catalogEntry(campaign: Campaign, cache?: EntryCache): CatalogEntry {
  return {
    campaign: servedCampaign(campaign),
    targeting: compileTargeting(campaign, cache),
    slots: slotsOf(campaign.week_slot, cache),
  }
}

/** The fields a snapshot keeps, in one object literal: every served campaign shares one shape. */
function servedCampaign(c: Campaign): ServedCampaign {
  return {
    id: c.id,
    is_ad: c.is_ad,
    name: c.name,
    type: c.type,
    owner_id: c.owner_id,
    provider_id: c.provider_id,
    channel_id: c.channel_id,
    categories: c.categories,
    title: c.title,
    description: c.description,
    image: c.image,
    click_url: c.click_url,
    impression_urls: c.impression_urls,
    landing_type: c.landing_type,
    display_type: c.display_type,
    display_weight: c.display_weight,
    first_display_priority: c.first_display_priority,
    status: c.status,
    start_date: c.start_date,
    end_date: c.end_date,
    published_at: c.published_at,
    week_slot: c.week_slot,
    ipu: c.ipu,
    dipu: c.dipu,
    tipu: c.tipu,
    budget_type: c.budget_type,
    budget_daily: c.budget_daily,
    budget_total: c.budget_total,
    budget_pacing: c.budget_pacing,
    unlock_reward: c.unlock_reward,
    landing_reward: c.landing_reward,
    action_reward: c.action_reward,
    clean_link: c.clean_link,
    clean_mode: c.clean_mode,
    extra: c.extra,
    revenue_type: c.revenue_type,
    target_unit: c.target_unit,
    target_country: c.target_country,
    target_app: c.target_app,
  }
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

/** A snapshot built one campaign at a time: `add` compiles each as it arrives, `build` indexes them all. */
export type SnapshotBuilder = {
  add(campaign: Campaign): void
  build(rest: Omit<SnapshotInput, 'campaigns'>): CatalogSnapshot
}

export function snapshotBuilder(): SnapshotBuilder {
  const cache: EntryCache = { ...targetingCache(), slots: new Map() }
  const ads: CatalogEntry[] = []
  const contents: CatalogEntry[] = []
  let usesAppTargeting = false
  return {
    add(campaign) {
      ;(campaign.is_ad ? ads : contents).push(catalogEntry(campaign, cache))
      if (campaign.target_app.length > 0 || campaign.detarget_app.length > 0) usesAppTargeting = true
    },
    build({ version, loadedAt, units, categories, channels }) {
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
        usesAppTargeting,
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
    },
  }
}

/** Builds an immutable, indexed snapshot of campaigns at hand (tests feed the allocation service with it). */
export function catalogSnapshot(input: SnapshotInput): CatalogSnapshot {
  const builder = snapshotBuilder()
  for (const campaign of input.campaigns) builder.add(campaign)
  return builder.build(input)
}
