import { type CatalogSnapshot, catalogSnapshot } from '../domain/catalog-snapshot.js'
import type { CatalogStore } from './ports/catalog.ports.js'
import type { ScheduledJob, Scheduler } from './scheduler.js'

export type CatalogService = {
  current(): CatalogSnapshot
  /** Reloads now (after an admin change); resolves when the new snapshot is in place. */
  reload(): Promise<void>
  /** When the store was last seen (a successful version check or load), epoch ms: readiness reads it. */
  checkedAt(): number
  /** Starts the background poll that picks up changes made by other processes. */
  start(): void
  /** Stops the poll; resolves when a poll in flight has finished. */
  stop(): Promise<void>
}

type Deps = { store: CatalogStore; refreshMs: number; clock: () => number; scheduler: Scheduler }

/**
 * A snapshot is rebuilt for hygiene (dropping ended campaigns) at least this often even without changes.
 * Rebuilding is not needed for correctness: allocation checks each campaign's schedule itself, and a 100k
 * catalog costs seconds of CPU and a few hundred MB of garbage per rebuild.
 */
const MAX_SNAPSHOT_AGE_MS = 15 * 60_000

/** Holds the catalog snapshot, rebuilt when the store's version moves and every MAX_SNAPSHOT_AGE_MS. */
export function createCatalogService({ store, refreshMs, clock, scheduler }: Deps): CatalogService {
  let snapshot = catalogSnapshot({
    version: -1,
    loadedAt: 0,
    units: [],
    campaigns: [],
    categories: [],
    channels: [],
  })
  let polling: ScheduledJob | undefined
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

  // A failed poll keeps serving the previous snapshot; the scheduler reports it.
  async function poll(): Promise<void> {
    const version = await store.catalogVersion()
    checkedAt = clock()
    if (version !== snapshot.version || checkedAt - snapshot.loadedAt > MAX_SNAPSHOT_AGE_MS) await reload()
  }

  return {
    current: () => snapshot,
    checkedAt: () => checkedAt,
    reload,
    start() {
      polling ??= scheduler.every('catalog refresh', refreshMs, poll)
    },
    async stop() {
      const job = polling
      polling = undefined
      await job?.stop()
    },
  }
}
