import { randomBytes } from 'node:crypto'
import { type RedisConnection, redisCall } from './redis.js'

export type Channel = {
  /** Sends a message to every process subscribed to the channel, this one excluded. */
  publish(message: string): Promise<void>
  subscribe(handler: (message: string) => void): void
}

/**
 * A Redis pub/sub channel. Each process tags what it publishes with its own id and ignores its own
 * messages, since it already applied the change locally.
 */
export function redisChannel(redis: RedisConnection, name: string): Channel {
  const self = randomBytes(6).toString('hex')
  const handlers: ((message: string) => void)[] = []
  let subscribed = false
  return {
    async publish(message) {
      await redisCall(redis.client.publish(name, `${self} ${message}`))
    },
    subscribe(handler) {
      handlers.push(handler)
      if (subscribed) return
      subscribed = true
      const sub = redis.subscriber()
      sub.on('message', (channel: string, raw: string) => {
        if (channel !== name) return
        const space = raw.indexOf(' ')
        if (raw.slice(0, space) === self) return
        const message = raw.slice(space + 1)
        for (const h of handlers) h(message)
      })
      sub.subscribe(name).catch(() => {})
    },
  }
}
