import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { openRedis, type RedisConnection, sendUnpipelined } from '../../src/infra/redis/redis.js'
import { type RedisBackend, redisBackend } from '../helpers/redis.js'

const backend: RedisBackend = await redisBackend()

describe('commands sent outside the auto-pipeline', { skip: backend.skip }, () => {
  let a: RedisConnection
  let b: RedisConnection
  before(async () => {
    a = await openRedis({ urls: [backend.url], cluster: false, timeoutMs: 1_000 })
    b = await openRedis({ urls: [backend.url], cluster: false, timeoutMs: 1_000 })
    sendUnpipelined(a.client, ['echo'])
  })
  after(async () => {
    await a.close()
    await b.close()
  })

  test('a named command goes straight to the socket; the others still wait in an auto-pipeline', async () => {
    const straight = a.client.echo('straight')
    assert.equal(a.client.autoPipelineQueueSize, 0)
    const pipelined = a.client.ping()
    assert.equal(a.client.autoPipelineQueueSize, 1)
    assert.deepEqual(await Promise.all([straight, pipelined]), ['straight', 'PONG'])
  })

  test("another client's commands are untouched (ioredis shares one default list among clients)", async () => {
    const echoed = b.client.echo('pipelined')
    assert.equal(b.client.autoPipelineQueueSize, 1)
    assert.equal(await echoed, 'pipelined')
  })
})
