import { randomBytes } from 'node:crypto'
import { type RedisConnection, redisCall } from './redis.js'

export type Channel = {
  /** Sends a message to every process subscribed to the channel, this one excluded. */
  publish(message: string): Promise<void>
  /**
   * Calls `handler` with each message from other processes. `onSubscribed` runs each time the subscription
   * is in place (at first, and again after Redis reconnected): messages sent before then were missed, so
   * a subscriber that keeps state from the store reads it again there.
   */
  subscribe(handler: (message: string) => void, onSubscribed?: () => void): void
}

const FIRST_RETRY_MS = 100
const MAX_RETRY_MS = 2_000
const PUBLISH_RETRY_MS = 200
/** How often a subscribed process checks that its own probe comes back (see below). */
const PROBE_MS = 1_000
/** Probes in a row that did not come back before the subscription counts as lost. */
const PROBE_MISSES = 2
/** A probe's text: no message of the application is empty. */
const PROBE = ''

/**
 * A Redis pub/sub channel. Each process tags what it publishes with its own id and ignores its own
 * messages, since it already applied the change locally. `publishTries`: a message Redis failed (a timeout,
 * a failover) is sent again, 200 ms apart, up to that many times in all (for rare messages that matter: a
 * lost catalog notice leaves the other instances on the old catalog until their next poll).
 *
 * A subscription can also end without a word: ioredis' cluster client moves its subscriber connection to
 * another node when the slot map changes and subscribes there again only if the old connection had its
 * SUBSCRIBE answered, so a move at the wrong moment leaves a live connection that receives nothing (seen in
 * CI: an instance that never heard of a new campaign). So a subscribed process publishes a probe to itself
 * every `PROBE_MS`; when `PROBE_MISSES` in a row have not come back, it subscribes again and resyncs as after
 * a reconnection. Every process ignores the others' probes.
 */
export function redisChannel(
  redis: RedisConnection,
  name: string,
  { publishTries = 1 }: { publishTries?: number } = {},
): Channel {
  const self = randomBytes(6).toString('hex')
  const handlers: ((message: string) => void)[] = []
  const resyncs: (() => void)[] = []
  let subscribed = false
  return {
    async publish(message) {
      for (let tries = 1; ; tries++) {
        try {
          return void (await redisCall(redis.client.publish(name, `${self} ${message}`)))
        } catch (err) {
          if (tries >= publishTries) throw err
          await new Promise((resolve) => setTimeout(resolve, PUBLISH_RETRY_MS))
        }
      }
    },
    subscribe(handler, onSubscribed) {
      handlers.push(handler)
      if (onSubscribed) resyncs.push(onSubscribed)
      if (subscribed) return
      subscribed = true
      const sub = redis.subscriber()
      const resync = () => {
        for (const r of resyncs) r()
      }
      const probe = probeSubscription(redis, sub, name, self, resync)
      sub.on('message', (channel: string, raw: string) => {
        if (channel === name) deliver(raw, self, probe, handlers)
      })
      // SUBSCRIBE can fail (a cluster's subscriber connection ending while it is sent, before ioredis knows
      // the channel to carry over): it is sent again until it holds, or the connection is closed for good.
      const attempt = (delayMs: number) =>
        sub.subscribe(name).then(
          () => {
            resync()
            // On each reconnection the client subscribes again as it gets ready; what was sent meanwhile is lost.
            sub.on('ready', resync)
          },
          () => {
            if (sub.status === 'end') return
            setTimeout(() => void attempt(Math.min(delayMs * 2, MAX_RETRY_MS)), delayMs).unref()
          },
        )
      void attempt(FIRST_RETRY_MS)
    },
  }
}

/** A message to the handlers, unless it is this process's own (its probe coming back) or another's probe. */
function deliver(raw: string, self: string, probe: { back(): void }, handlers: ((m: string) => void)[]) {
  const space = raw.indexOf(' ')
  const message = raw.slice(space + 1)
  if (raw.slice(0, space) === self) {
    if (message === PROBE) probe.back()
    return
  }
  if (message === PROBE) return
  for (const h of handlers) h(message)
}

/**
 * Publishes a probe to this process every `PROBE_MS`; when the last ones have not come back (`back`), subscribes
 * again (a no-op on a connection that still has the channel) and resyncs what may have been missed. Stops when
 * the subscriber connection is closed for good.
 */
function probeSubscription(
  redis: RedisConnection,
  sub: ReturnType<RedisConnection['subscriber']>,
  name: string,
  self: string,
  resync: () => void,
): { back(): void } {
  let out = false
  let misses = 0
  // One SUBSCRIBE at a time: while Redis is away they would queue up, one a second, and each resync.
  let again: Promise<void> | undefined
  const check = () => {
    if (sub.status === 'end') return clearInterval(timer)
    if (out) misses++
    if (misses >= PROBE_MISSES && !again) {
      misses = 0
      again = sub
        .subscribe(name)
        .then(resync, () => {})
        .finally(() => {
          again = undefined
        })
    }
    out = true
    redisCall(redis.client.publish(name, `${self} ${PROBE}`)).catch(() => {
      // Not sent (Redis unreachable): nothing to wait for; the reconnection resyncs by itself.
      out = false
    })
  }
  // Checked after the event loop's I/O phase: a probe that came back while the loop was busy is read first,
  // so a slow loop is not taken for a lost subscription (a resync reloads the whole catalog).
  const timer = setInterval(() => setImmediate(check), PROBE_MS)
  timer.unref()
  return {
    back() {
      out = false
      misses = 0
    },
  }
}
