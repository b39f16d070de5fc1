import { Redis, ReplyError } from 'ioredis'
import { DependencyUnavailable } from '../../domain/errors.js'

export type RedisConnection = {
  /** Commands. */
  client: Redis
  /** Lazily opened second connection for SUBSCRIBE (a subscribed connection cannot run commands). */
  subscriber(): Redis
  ping(): Promise<void>
  close(): Promise<void>
}

export type RedisSettings = {
  url: string
  /** Longest a command may take (ms); connecting gets a few times that. */
  timeoutMs: number
}

/**
 * Opens the Redis connection(s) Allot uses; keys are prefixed by the repositories, not by ioredis. Waits a
 * moment for the first connection, then goes on without it: Redis may come back later, and until then
 * every command fails at once (see redisCall) instead of queueing.
 */
export async function openRedis({ url, timeoutMs }: RedisSettings): Promise<RedisConnection> {
  const connectMs = Math.max(4 * timeoutMs, 1_000)
  const client = new Redis(url, {
    // Each command answers or fails within timeoutMs; callers degrade or answer 503.
    commandTimeout: timeoutMs,
    // While disconnected, a command fails at once instead of waiting in a queue for Redis to return.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // A command cut off by a dropped connection may have been applied (INCRBY): never send it again.
    autoResendUnfulfilledCommands: false,
    // A connection that stops answering is dropped and made again, not waited on.
    socketTimeout: connectMs,
    connectTimeout: connectMs,
    enableAutoPipelining: true,
  })
  let sub: Redis | undefined
  // ioredis emits 'error' on every failed reconnect; without a listener Node would treat it as unhandled.
  client.on('error', () => {})
  await ready(client, connectMs)
  return {
    client,
    subscriber() {
      if (!sub) {
        // SUBSCRIBE may wait for a connection: it is sent once connected, and again after each reconnect.
        sub = client.duplicate({
          enableOfflineQueue: true,
          commandTimeout: undefined,
          maxRetriesPerRequest: null,
        })
        sub.on('error', () => {})
      }
      return sub
    },
    async ping() {
      await redisCall(client.ping())
    },
    async close() {
      // The subscriber has nothing to flush; QUIT on the command connection is bounded by commandTimeout.
      sub?.disconnect()
      await client.quit().catch(() => client.disconnect())
    },
  }
}

function ready(client: Redis, ms: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      client.off('ready', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    client.once('ready', done)
  })
}

// Replies that mean "not now" rather than "wrong command".
const BUSY_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY)\b/

/**
 * Awaits a Redis call; a connection that is down, dropped or too slow becomes DependencyUnavailable
 * ('redis'), which the HTTP layer answers with 503 + Retry-After. Other reply errors (bugs) pass through.
 */
export async function redisCall<T>(work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (err) {
    if (err instanceof ReplyError && !BUSY_REPLY.test((err as Error).message)) throw err
    const timedOut = (err as Error).message === 'Command timed out'
    throw new DependencyUnavailable('redis', timedOut ? 'timeout' : 'unreachable', err)
  }
}
