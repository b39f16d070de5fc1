import type { Campaign, ContentCategory, ContentChannel, Unit } from '../domain/catalog.js'
import { buildCampaignIndex, type CampaignIndex } from '../domain/catalog-index.js'
import { compileTargeting, type TargetingPredicate } from '../domain/targeting.js'

/** Where the catalog comes from (the SQL database in both modes). */
export type CatalogStore = {
  /** A number that changes whenever units or campaigns change. */
  catalogVersion(): Promise<number>
  listUnits(): Promise<Unit[]>
  /** Campaigns that may be served now or later: active and not yet ended at `now`. */
  listServableCampaigns(now: number): Promise<Campaign[]>
  listCategories(): Promise<ContentCategory[]>
  listChannels(): Promise<ContentChannel[]>
}

export type Logger = {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

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

export type CatalogService = {
  current(): CatalogSnapshot
  /** Reloads now (after an admin change); resolves when the new snapshot is in place. */
  reload(): Promise<void>
  /** When the store was last seen (a successful version check or load), epoch ms: readiness reads it. */
  checkedAt(): number
  /** Starts the background poll that picks up changes made by other processes. */
  start(): void
  stop(): void
}

type Deps = { store: CatalogStore; refreshMs: number; clock: () => number; logger: Logger }

/**
 * A snapshot is rebuilt for hygiene (dropping ended campaigns) at least this often even without changes.
 * Rebuilding is not needed for correctness: allocation checks each campaign's schedule itself, and a 100k
 * catalog costs seconds of CPU and a few hundred MB of garbage per rebuild.
 */
const MAX_SNAPSHOT_AGE_MS = 15 * 60_000

/** Holds the catalog snapshot, rebuilt when the store's version moves and every MAX_SNAPSHOT_AGE_MS. */
export function createCatalogService({ store, refreshMs, clock, logger }: Deps): CatalogService {
  let snapshot = catalogSnapshot({
    version: -1,
    loadedAt: 0,
    units: [],
    campaigns: [],
    categories: [],
    channels: [],
  })
  let timer: NodeJS.Timeout | undefined
  let inflight: Promise<void> | undefined
  let checkedAt = 0

  async function build(): Promise<void> {
    const version = await store.catalogVersion()
    const now = clock()
    const [units, campaigns, categories, channels] = await Promise.all([
      store.listUnits(),
      store.listServableCampaigns(now),
      store.listCategories(),
      store.listChannels(),
    ])
    snapshot = catalogSnapshot({ version, loadedAt: now, units, campaigns, categories, channels })
    checkedAt = now
  }

  // Concurrent reload requests share one build; a request arriving mid-build gets a fresh one after it.
  function reload(): Promise<void> {
    const run = (inflight ?? Promise.resolve()).catch(() => {}).then(build)
    inflight = run.finally(() => {
      if (inflight === tracked) inflight = undefined
    })
    const tracked = inflight
    return run
  }

  async function poll(): Promise<void> {
    try {
      const version = await store.catalogVersion()
      checkedAt = clock()
      if (version !== snapshot.version || checkedAt - snapshot.loadedAt > MAX_SNAPSHOT_AGE_MS) await reload()
    } catch (err) {
      logger.error({ err }, 'catalog refresh failed; serving the previous snapshot')
    }
  }

  return {
    current: () => snapshot,
    checkedAt: () => checkedAt,
    reload,
    start() {
      if (timer) return
      timer = setInterval(poll, refreshMs)
      timer.unref()
    },
    stop() {
      if (timer) clearInterval(timer)
      timer = undefined
    },
  }
}

type SnapshotInput = {
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
