import { randomUUID } from 'node:crypto'
import { DependencyUnavailable } from '../domain/errors.js'
import { type RedisClient, redisCall } from '../infra/redis/redis.js'

// Deletes the lock only if it is still ours (a lease that ran out may belong to another process now).
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

type Options = { leaseMs?: number; waitMs?: number }

/**
 * A per-device lock shared by every process through Redis (SET NX PX with a token, released by a
 * compare-and-delete), so a cap check and the impression it allows are one step across instances.
 * The lease bounds how long a crashed holder blocks the device. Redis is a lock here, never a store of
 * record: when it cannot be reached the work runs anyway (its caller already orders one device's events in
 * this process), and only a device held by another process past `waitMs` fails ('device lock', timeout).
 */
export function createRedisDeviceLock(
  redis: RedisClient,
  prefix: string,
  { leaseMs = 2_000, waitMs = 1_000 }: Options = {},
) {
  /** True once the lock is ours; false when Redis cannot be asked. */
  async function acquire(key: string, token: string, deviceId: number): Promise<boolean> {
    const deadline = Date.now() + waitMs
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      try {
        if ((await redisCall(redis.set(key, token, 'PX', leaseMs, 'NX'))) === 'OK') return true
      } catch (err) {
        // Redis down shows in /readyz and allot_dependency_up; the caller's own order still holds here.
        if (err instanceof DependencyUnavailable) return false
        throw err
      }
      if (Date.now() + delay > deadline)
        throw new DependencyUnavailable('device lock', 'timeout', `device_id ${deviceId} stayed locked`)
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }

  return {
    async run<T>(deviceId: number, work: () => Promise<T>): Promise<T> {
      const key = `${prefix}lock:d${deviceId}`
      const token = randomUUID()
      if (!(await acquire(key, token, deviceId))) return work()
      try {
        return await work()
      } finally {
        await redis.eval(RELEASE, 1, key, token).catch(() => {})
      }
    },
  }
}
