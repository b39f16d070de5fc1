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

/**
 * A Redis pub/sub channel. Each process tags what it publishes with its own id and ignores its own
 * messages, since it already applied the change locally.
 */
export function redisChannel(redis: RedisConnection, name: string): Channel {
  const self = randomBytes(6).toString('hex')
  const handlers: ((message: string) => void)[] = []
  const resyncs: (() => void)[] = []
  let subscribed = false
  return {
    async publish(message) {
      await redisCall(redis.client.publish(name, `${self} ${message}`))
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
      sub.subscribe(name).then(
        () => {
          resync()
          // On each reconnection the client subscribes again as it gets ready; what was sent meanwhile is lost.
          sub.on('ready', resync)
        },
        () => {},
      )
    },
  }
}
