import { LRUCache } from 'lru-cache'
import type { SharedOnce } from './ports/events.ports.js'

type Deps = {
  shared?: SharedOnce | undefined
  /** Keys remembered in this process (the fallback when the shared level fails or is not configured). */
  maxLocal: number
  /** Told when the shared level failed and this process's memory decided alone. */
  onDegraded?: (what: string, err: unknown) => void
}

/**
 * Says whether an event is seen for the first time within its period (a landing per device, campaign and
 * slot hour), so that a retried or repeated event counts once: across processes through the shared level,
 * and in this process's memory always (which also decides alone while the shared level is down: then a
 * repeat that reaches another process may count again).
 */
export function createOnceGuard({ shared, maxLocal, onDegraded = () => {} }: Deps) {
  const seen = new LRUCache<string, true>({ max: maxLocal, ttlAutopurge: false })
  return {
    async first(key: string, ttlMs: number): Promise<boolean> {
      if (seen.has(key)) return false
      seen.set(key, true, { ttl: ttlMs })
      if (!shared) return true
      try {
        return await shared.claim(key, ttlMs)
      } catch (err) {
        onDegraded('shared once-keys', err)
        return true
      }
    },
  }
}
