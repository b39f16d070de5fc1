import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import { LRUCache } from 'lru-cache'
import type { RedisClient } from './redis.js'

/** A fixed window: INCR, the window's expiry set by its first hit; answers the count and the time left. */
const HIT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) return {n, tonumber(ARGV[1])} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
return {n, ttl}`

type Hit = { current: number; ttl: number }
type Callback = (error: Error | null, result?: Hit) => void

/** Windows counted in this process while Redis cannot be reached: the same limits, per process. */
const LOCAL_WINDOWS = 100_000

/**
 * An @fastify/rate-limit store whose windows live in Redis, shared by every process, and fall back to
 * this process's own windows while Redis fails (down, slow, failing over): a limit is never lifted nor
 * turned into an error because the cache is gone, as without Redis configured.
 */
export function redisRateLimitStore(
  redis: RedisClient,
  prefix: string,
  onDegraded: (err: unknown) => void,
): FastifyRateLimitStoreCtor {
  const local = new LRUCache<string, { count: number; endsAt: number }>({ max: LOCAL_WINDOWS })

  function localHit(key: string, windowMs: number): Hit {
    const now = Date.now()
    let window = local.get(key)
    if (!window || window.endsAt <= now) {
      window = { count: 0, endsAt: now + windowMs }
      local.set(key, window)
    }
    window.count++
    return { current: window.count, ttl: window.endsAt - now }
  }

  class Store implements FastifyRateLimitStore {
    incr(key: string, callback: Callback, windowMs = 60_000): void {
      redis.eval(HIT, 1, `${prefix}${key}`, windowMs).then(
        (reply) => {
          const [current, ttl] = reply as [number, number]
          callback(null, { current, ttl })
        },
        (err) => {
          onDegraded(err)
          callback(null, localHit(key, windowMs))
        },
      )
    }
    child(): FastifyRateLimitStore {
      return this
    }
  }
  // The plugin constructs the store with its options; this one needs none of them.
  return Store as unknown as FastifyRateLimitStoreCtor
}
