import type { Campaign, ContentCategory, ContentChannel, Unit } from '../domain/catalog.js'
import { type CatalogSnapshot, catalogSnapshot } from '../domain/catalog-snapshot.js'
import type { Logger } from './logger.js'

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
