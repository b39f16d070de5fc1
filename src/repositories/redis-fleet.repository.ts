import type { InstanceFigures } from '../domain/fleet.js'
import { type RedisClient, redisCall } from '../infra/redis/redis.js'
import { figuresFromJson, figuresToJson } from './fleet.repository.js'

/**
 * The fleet store in Redis: one hash (`<prefix>{fleet}:instances`, a single key, so one slot in a cluster),
 * a field per instance holding its figures and when they expire. Each write renews the hash's own TTL, so
 * the hash vanishes a few periods after the last instance stops; fields of instances that stopped writing
 * are ignored and deleted by the next reader.
 */
export function createRedisFleetRepository(redis: RedisClient, prefix: string) {
  const key = `${prefix}{fleet}:instances`
  return {
    async save(figures: InstanceFigures, expiresAt: number): Promise<void> {
      const value = JSON.stringify({ expiresAt, figures: figuresToJson(figures) })
      const ttlMs = Math.max(1, Math.ceil(expiresAt - figures.at))
      const replies = await redisCall(
        redis.multi().hset(key, figures.instanceId, value).pexpire(key, ttlMs).exec(),
      )
      const failed = replies?.find(([err]) => err)
      if (failed) throw failed[0]
    },
    async list(now: number): Promise<InstanceFigures[]> {
      const fields = await redisCall(redis.hgetall(key))
      const fresh: InstanceFigures[] = []
      const expired: string[] = []
      for (const [instanceId, value] of Object.entries(fields)) {
        const entry = parseEntry(value)
        if (entry && entry.expiresAt > now) fresh.push(entry.figures)
        else expired.push(instanceId)
      }
      if (expired.length > 0) await redisCall(redis.hdel(key, ...expired))
      return fresh
    },
    async remove(instanceId: string): Promise<void> {
      await redisCall(redis.hdel(key, instanceId))
    },
  }
}

function parseEntry(value: string): { expiresAt: number; figures: InstanceFigures } | undefined {
  try {
    const { expiresAt, figures } = JSON.parse(value) as { expiresAt: unknown; figures: unknown }
    const parsed = figuresFromJson(figures)
    return typeof expiresAt === 'number' && parsed ? { expiresAt, figures: parsed } : undefined
  } catch {
    return undefined
  }
}
