import { type RedisClient, redisCall } from '../infra/redis/redis.js'

/** Once-keys in Redis: SET NX PX, one round trip; the key's own slot in a cluster. */
export function createRedisOnce(redis: RedisClient, prefix: string) {
  return {
    async claim(key: string, ttlMs: number): Promise<boolean> {
      return (await redisCall(redis.set(`${prefix}once:${key}`, '1', 'PX', ttlMs, 'NX'))) === 'OK'
    },
  }
}
