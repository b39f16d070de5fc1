import { after, before, describe } from 'node:test'
import { openRedis, type RedisConnection } from '../../src/infra/redis/redis.js'
import { createMemoryCounterRepository } from '../../src/repositories/memory-counter.repository.js'
import { createRedisCounterRepository } from '../../src/repositories/redis-counter.repository.js'
import type { CounterStore } from '../../src/services/device-data.ports.js'
import { redisBackend } from '../helpers/redis.js'
import { counterStoreContract } from './counter-store.contract.js'

describe('counter store contract: in-process', () => {
  let now = 1_000_000
  const store = createMemoryCounterRepository(() => now)
  counterStoreContract(
    () => store,
    async (ms) => {
      now += ms
    },
  )
})

const redis = await redisBackend()
describe('counter store contract: Redis', { skip: redis.skip }, () => {
  let connection: RedisConnection
  let store: CounterStore
  before(async () => {
    connection = await openRedis({ url: redis.url, timeoutMs: 1000 })
    store = createRedisCounterRepository(connection.client, redis.prefix)
  })
  after(async () => {
    await redis.cleanup()
    await connection?.close()
  })
  // Redis keeps real time: wait the ttl out.
  counterStoreContract(
    () => store,
    (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  )
})
