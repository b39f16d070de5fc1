/** In-process counters for the embedded default (one process; Redis replaces it in production). */
export function createMemoryCounterRepository(clock: () => number) {
  const values = new Map<string, { value: number; expiresAt: number }>()

  function live(key: string, now: number) {
    const entry = values.get(key)
    if (entry && entry.expiresAt <= now) {
      values.delete(key)
      return undefined
    }
    return entry
  }

  return {
    async increment(key: string, by: number, ttlSeconds?: number): Promise<number> {
      const now = clock()
      const entry = live(key, now)
      if (entry) {
        entry.value += by
        return entry.value
      }
      const expiresAt = ttlSeconds === undefined ? Number.POSITIVE_INFINITY : now + ttlSeconds * 1000
      values.set(key, { value: by, expiresAt })
      return by
    },
    async read(keys: readonly string[]): Promise<number[]> {
      const now = clock()
      return keys.map((k) => live(k, now)?.value ?? 0)
    },
    /** Drops expired keys so memory stays bounded. */
    sweep(): void {
      const now = clock()
      for (const [key, entry] of values) if (entry.expiresAt <= now) values.delete(key)
    },
  }
}
