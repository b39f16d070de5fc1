import { type CatalogSnapshot, catalogSnapshot, snapshotBuilder } from '../domain/catalog-snapshot.js'
import type { CatalogStore } from './ports/catalog.ports.js'
import type { ScheduledJob, Scheduler } from './scheduler.js'

export type CatalogService = {
  current(): CatalogSnapshot
  /** Reloads now (after an admin change); resolves when the new snapshot is in place. */
  reload(): Promise<void>
  /**
   * Reloads after a change was announced (a notice from another process): if that fails (the database slow
   * or down), again every RETRY_MS until one succeeds, instead of serving the stale snapshot until the next
   * poll. Failed attempts after the first are reported through the scheduler.
   */
  reloadUntilDone(): void
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
 * catalog costs seconds of CPU and tens of MB of garbage per rebuild.
 */
const MAX_SNAPSHOT_AGE_MS = 15 * 60_000

/** How soon an announced change that failed to load is tried again. */
const RETRY_MS = 1000

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
  let retrying: ScheduledJob | undefined
  let stopped = false
  let inflight: Promise<void> | undefined
  let checkedAt = 0

  async function build(): Promise<void> {
    const version = await store.catalogVersion()
    const now = clock()
    // Each campaign is compiled into the snapshot as it is read, so the full rows die young.
    const builder = snapshotBuilder()
    const [units, , categories, channels] = await Promise.all([
      store.listUnits(),
      store.eachServableCampaign(now, builder.add),
      store.listCategories(),
      store.listChannels(),
    ])
    snapshot = builder.build({ version, loadedAt: now, units, categories, channels })
    checkedAt = now
  }

  // A reload requested mid-build runs after it. `inflight` only orders builds and never rejects: a build's
  // failure goes to its caller alone (a rejection nobody awaits would end the process).
  function reload(): Promise<void> {
    const run = (inflight ?? Promise.resolve()).then(build)
    const settled = run.then(
      () => {},
      () => {},
    )
    inflight = settled
    settled.then(() => {
      if (inflight === settled) inflight = undefined
    })
    return run
  }

  // A failed poll keeps serving the previous snapshot; the scheduler reports it.
  async function poll(): Promise<void> {
    const version = await store.catalogVersion()
    checkedAt = clock()
    if (version !== snapshot.version || checkedAt - snapshot.loadedAt > MAX_SNAPSHOT_AGE_MS) await reload()
  }

  /** Ends the retries; not awaited from inside a retry (stop waits for the run in flight: that run). */
  function stopRetrying(): Promise<void> {
    const job = retrying
    retrying = undefined
    return job?.stop() ?? Promise.resolve()
  }

  function reloadUntilDone(): void {
    reload().then(
      () => void stopRetrying(),
      () => {
        if (stopped) return
        retrying ??= scheduler.every('catalog reload after a notice', RETRY_MS, async () => {
          await reload()
          void stopRetrying()
        })
      },
    )
  }

  return {
    current: () => snapshot,
    checkedAt: () => checkedAt,
    reload,
    reloadUntilDone,
    start() {
      polling ??= scheduler.every('catalog refresh', refreshMs, poll)
    },
    async stop() {
      stopped = true
      const job = polling
      polling = undefined
      await Promise.all([job?.stop(), stopRetrying()])
    },
  }
}
