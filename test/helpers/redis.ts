import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { requireComponent } from './requirement.js'

/** Server for the Redis suites; override with REDIS_TEST_URL. */
export const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379'

export type RedisBackend = {
  url: string
  /** A key prefix no other run uses; `cleanup` deletes its keys. */
  prefix: string
  skip: string | undefined
  cleanup(): Promise<void>
}

/**
 * Redis for a suite under a random key prefix. With CI=true an unreachable Redis throws (a failure,
 * never a skip); outside CI the suite is skipped with a visible reason.
 */
export async function redisBackend(): Promise<RedisBackend> {
  const prefix = `allot_t_${process.pid}_${randomBytes(4).toString('hex')}:`
  const reachable = await ping()
  const skip = requireComponent(
    reachable === true ? undefined : `Redis at ${REDIS_TEST_URL} is unreachable (${reachable})`,
    'Redis suite',
  )
  return {
    url: REDIS_TEST_URL,
    prefix,
    skip,
    async cleanup() {
      if (reachable !== true) return
      const redis = new Redis(REDIS_TEST_URL)
      try {
        let cursor = '0'
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
          cursor = next
          if (keys.length > 0) await redis.del(...keys)
        } while (cursor !== '0')
      } finally {
        redis.disconnect()
      }
    },
  }
}

async function ping(): Promise<true | string> {
  const redis = new Redis(REDIS_TEST_URL, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
  })
  redis.on('error', () => {})
  try {
    await redis.connect()
    await redis.ping()
    return true
  } catch (err) {
    return (err as Error).message
  } finally {
    redis.disconnect()
  }
}
