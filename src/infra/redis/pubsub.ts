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

/**
 * A Redis pub/sub channel. Each process tags what it publishes with its own id and ignores its own
 * messages, since it already applied the change locally. `publishTries`: a message Redis failed (a timeout,
 * a failover) is sent again, 200 ms apart, up to that many times in all (for rare messages that matter: a
 * lost catalog notice leaves the other instances on the old catalog until their next poll).
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
      sub.on('message', (channel: string, raw: string) => {
        if (channel !== name) return
        const space = raw.indexOf(' ')
        if (raw.slice(0, space) === self) return
        const message = raw.slice(space + 1)
        for (const h of handlers) h(message)
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
