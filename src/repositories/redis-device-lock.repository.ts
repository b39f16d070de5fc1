import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { AllotError } from '../domain/errors.js'

// Deletes the lock only if it is still ours (a lease that ran out may belong to another process now).
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

type Options = { leaseMs?: number; waitMs?: number }

/**
 * A per-device lock shared by every process through Redis (SET NX PX with a token, released by a
 * compare-and-delete), so a cap check and the impression it allows are one step across instances.
 * The lease bounds how long a crashed holder blocks the device.
 */
export function createRedisDeviceLock(
  redis: Redis,
  prefix: string,
  { leaseMs = 2_000, waitMs = 1_000 }: Options = {},
) {
  return {
    async run<T>(deviceId: number, work: () => Promise<T>): Promise<T> {
      const key = `${prefix}lock:d${deviceId}`
      const token = randomUUID()
      const deadline = Date.now() + waitMs
      for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
        if ((await redis.set(key, token, 'PX', leaseMs, 'NX')) === 'OK') break
        if (Date.now() + delay > deadline)
          throw new AllotError('ServiceUnavailable', `device_id ${deviceId} is busy; retry the event`)
        await new Promise((resolve) => setTimeout(resolve, delay))
      }
      try {
        return await work()
      } finally {
        await redis.eval(RELEASE, 1, key, token).catch(() => {})
      }
    },
  }
}
