import { Redis } from 'ioredis'

export type RedisConnection = {
  /** Commands. */
  client: Redis
  /** Lazily opened second connection for SUBSCRIBE (a subscribed connection cannot run commands). */
  subscriber(): Redis
  ping(): Promise<void>
  close(): Promise<void>
}

/** Opens the Redis connection(s) Allot uses; keys are prefixed by the repositories, not by ioredis. */
export function openRedis(url: string): RedisConnection {
  const options = {
    // Fail a command fast instead of queueing it forever while Redis is away; callers degrade.
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
    connectTimeout: 2_000,
    lazyConnect: false,
  }
  const client = new Redis(url, options)
  let sub: Redis | undefined
  // ioredis emits 'error' on every failed reconnect; without a listener Node would treat it as unhandled.
  client.on('error', () => {})
  return {
    client,
    subscriber() {
      if (!sub) {
        sub = client.duplicate()
        sub.on('error', () => {})
      }
      return sub
    },
    async ping() {
      await client.ping()
    },
    async close() {
      await Promise.allSettled([client.quit(), sub?.quit()])
    },
  }
}
