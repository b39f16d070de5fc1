import { Cluster, Redis, ReplyError } from 'ioredis'
import { DependencyUnavailable } from '../../domain/errors.js'

/** A single server's client or a cluster's: the same commands, routed by key slot in a cluster. */
export type RedisClient = Redis | Cluster

export type RedisConnection = {
  /** Commands. */
  client: RedisClient
  /** Lazily opened second connection for SUBSCRIBE (a subscribed connection cannot run commands). */
  subscriber(): RedisClient
  ping(): Promise<void>
  close(): Promise<void>
}

export type RedisSettings = {
  /** One server, or a cluster's seed nodes. */
  urls: readonly string[]
  cluster: boolean
  /** Longest a command may take (ms); connecting gets a few times that. */
  timeoutMs: number
}

/**
 * Opens the Redis connection(s) Allot uses, to one server or to a Redis Cluster; keys are prefixed by the
 * repositories, not by ioredis. Waits a moment for the first connection, then goes on without it: Redis may
 * come back later, and until then every command fails at once (see redisCall) instead of queueing.
 */
export async function openRedis(settings: RedisSettings): Promise<RedisConnection> {
  const connectMs = Math.max(4 * settings.timeoutMs, 1_000)
  const client = settings.cluster ? openCluster(settings, connectMs) : openServer(settings, connectMs)
  let sub: RedisClient | undefined
  // ioredis emits 'error' on every failed reconnect; without a listener Node would treat it as unhandled.
  client.on('error', () => {})
  await ready(client, connectMs)
  return {
    client,
    subscriber() {
      // SUBSCRIBE may wait for a connection: it is sent once connected, and again after each reconnect (in a
      // cluster, on another node after a failover: PUBLISH reaches every node).
      sub ??= duplicateForSubscribing(client)
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

/** Per command: answer within the time limit or fail, never queue while disconnected, never resend. */
function commandOptions(timeoutMs: number, connectMs: number) {
  return {
    // Each command answers or fails within timeoutMs; callers degrade or answer 503.
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    // A command cut off by a dropped connection may have been applied (INCRBY): never send it again.
    autoResendUnfulfilledCommands: false,
    // A connection that stops answering is dropped and made again, not waited on.
    socketTimeout: connectMs,
    connectTimeout: connectMs,
  }
}

function openServer({ urls, timeoutMs }: RedisSettings, connectMs: number): Redis {
  return new Redis(urls[0] ?? '', {
    ...commandOptions(timeoutMs, connectMs),
    // While disconnected, a command fails at once instead of waiting in a queue for Redis to return.
    enableOfflineQueue: false,
    enableAutoPipelining: true,
  })
}

/**
 * The cluster client: commands go to the master of their key's slot (every multi-key script of Allot keeps
 * its keys in one slot with a hash tag); a failover moves the slot, and the client follows the cluster's
 * redirections and refreshes its slot map by itself.
 */
function openCluster({ urls, timeoutMs }: RedisSettings, connectMs: number): Cluster {
  const seeds = urls.map((u) => {
    const url = new URL(u)
    return { host: url.hostname, port: Number(url.port || 6379) }
  })
  const first = new URL(urls[0] ?? 'redis://127.0.0.1')
  return new Cluster(seeds, {
    enableOfflineQueue: false,
    // Off in a cluster: an auto-pipeline batches by node, and when a failover moves a slot its MOVED reply
    // reaches the caller instead of being followed (ioredis issue #2075; reproduced by the failover test).
    enableAutoPipelining: false,
    slotsRefreshTimeout: connectMs,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2_000),
    redisOptions: {
      ...commandOptions(timeoutMs, connectMs),
      ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
      ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
      ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  })
}

/**
 * Sends the named commands (defined scripts included) straight to the socket, outside ioredis' auto-pipeline.
 * For commands their caller already batches per loop iteration: an auto-pipeline waits for the one in flight
 * before it is sent, and each batch it makes is a Pipeline object holding its commands until every reply is
 * in. Held that long, a busy process's commands outlived two scavenges and were copied into the old
 * generation (docs/benchmarks.md, "The production path's garbage"). In a cluster auto-pipelining is off.
 */
export function sendUnpipelined(client: RedisClient, commands: readonly string[]): void {
  const options = client.options as { autoPipeliningIgnoredCommands?: string[] }
  // A new array: ioredis' default is one array shared by every client.
  options.autoPipeliningIgnoredCommands = [...(options.autoPipeliningIgnoredCommands ?? []), ...commands]
}

/** A connection for SUBSCRIBE: it waits for Redis instead of failing, and resubscribes after reconnecting. */
function duplicateForSubscribing(client: RedisClient): RedisClient {
  const sub =
    client instanceof Cluster
      ? client.duplicate(undefined, {
          enableOfflineQueue: true,
          redisOptions: {
            ...client.options.redisOptions,
            commandTimeout: undefined,
            maxRetriesPerRequest: null,
          },
        })
      : client.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, maxRetriesPerRequest: null })
  sub.on('error', () => {})
  return sub
}

function ready(client: RedisClient, ms: number): Promise<void> {
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

// Replies that mean "not now" rather than "wrong command" (a redirection the client could not follow
// while the cluster's map changes is one of them).
const BUSY_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|MOVED|ASK)\b/

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
