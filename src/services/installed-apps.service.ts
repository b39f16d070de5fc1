import { LRUCache } from 'lru-cache'
import type { InstalledAppsStore } from './ports/devices.ports.js'

/** The packages a device has installed, by app id and advertising id (what allocation's `target_app` needs). */
export type InstalledApps = {
  /** The device's packages, or undefined when it never uploaded a list for this app. */
  packages(appId: number, ifa: string): Promise<ReadonlySet<string> | undefined>
  /** Replaces the device's list (an SDK upload). */
  update(appId: number, ifa: string, packages: readonly string[]): Promise<void>
}

type Deps = {
  store: InstalledAppsStore
  clock: () => number
  /** Devices kept in this process. */
  maxEntries: number
  /** How long a cached list is used; an upload handled by another process shows here after this. */
  ttlMs?: number
  /** Rough memory bound over all cached lists (a list may be up to 256 KiB of names). */
  maxBytes?: number
}

/** Lists change about once a day per device (the SDK uploads every `update_period`). */
const DEFAULT_INSTALLED_APPS_TTL_MS = 5 * 60_000
const DEFAULT_MAX_BYTES = 128 * 1024 * 1024
// V8 cost of a Set entry and a short string header, roughly: only to bound memory, not to measure it.
const ENTRY_OVERHEAD = 64

// Cached value: a wrapper, so "never uploaded" is cached too (allocation asks for every device).
type Entry = { packages: ReadonlySet<string> | undefined }

/**
 * Installed package lists behind an in-process LRU: concurrent misses for one device make one load, an
 * upload through this process replaces its cached list at once, and other processes' copies expire
 * after `ttlMs` (default 5 minutes).
 */
export function createInstalledApps({
  store,
  clock,
  maxEntries,
  ttlMs = DEFAULT_INSTALLED_APPS_TTL_MS,
  maxBytes = DEFAULT_MAX_BYTES,
}: Deps): InstalledApps {
  const key = (appId: number, ifa: string) => `${appId}:${ifa}`
  const entryOf = (packages: readonly string[] | undefined): Entry => ({
    packages: packages && new Set(packages),
  })
  const cache = new LRUCache<string, Entry>({
    max: maxEntries,
    ttl: ttlMs,
    // Ages are measured on the injected clock, read at every check (no 1 ms cache of it), so a test that
    // moves the clock sees an entry expire without waiting.
    perf: { now: clock },
    ttlResolution: 0,
    maxSize: maxBytes,
    sizeCalculation: ({ packages }) => {
      let size = ENTRY_OVERHEAD
      if (packages) for (const name of packages) size += name.length + ENTRY_OVERHEAD
      return size
    },
    fetchMethod: async (k) => {
      const at = k.indexOf(':')
      return entryOf(await store.get(Number(k.slice(0, at)), k.slice(at + 1)))
    },
    // An upload (set) during a load keeps the upload; the load still answers the callers that were waiting.
    ignoreFetchAbort: true,
  })

  return {
    async packages(appId, ifa) {
      const entry = await cache.fetch(key(appId, ifa))
      return entry?.packages
    },
    async update(appId, ifa, packages) {
      await store.put(appId, ifa, packages, clock())
      cache.set(key(appId, ifa), entryOf(packages))
    },
  }
}
