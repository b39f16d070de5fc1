import type { Redis } from 'ioredis'
import { redisCall } from '../infra/redis/redis.js'

// INCRBY, then give the key its ttl only if it has none yet (a new key), in one atomic step.
const INCREMENT = `
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '' and redis.call('TTL', KEYS[1]) == -1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return v`

/** Shared counters in Redis (production): atomic increments, one MGET per read. */
export function createRedisCounterRepository(redis: Redis, prefix: string) {
  const full = (key: string) => `${prefix}cnt:${key}`
  return {
    async increment(key: string, by: number, ttlSeconds?: number): Promise<number> {
      const value = await redisCall(redis.eval(INCREMENT, 1, full(key), by, ttlSeconds ?? ''))
      return Number(value)
    },
    async read(keys: readonly string[]): Promise<number[]> {
      if (keys.length === 0) return []
      const values = await redisCall(redis.mget(keys.map(full)))
      return values.map((v) => (v === null ? 0 : Number(v)))
    },
  }
}
