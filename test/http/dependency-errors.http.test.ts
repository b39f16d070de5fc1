import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import { AllotError, DependencyUnavailable } from '../../src/domain/errors.js'
import { installErrorHandler } from '../../src/http/error-handler.js'

/** A bare app with the project's error handler and one route that fails with `err`. */
async function failingWith(err: Error) {
  const app = Fastify({ logger: false })
  installErrorHandler(app)
  app.get('/fail', async () => {
    throw err
  })
  const res = await app.inject({ method: 'GET', url: '/fail' })
  await app.close()
  return res
}

describe('a store that fails a request', () => {
  test('is a 503 ServiceUnavailable (9003) with Retry-After, whatever the store and the reason', async () => {
    for (const err of [
      new DependencyUnavailable('redis', 'unreachable', new Error('connect ECONNREFUSED 127.0.0.1:6379')),
      new DependencyUnavailable('database', 'timeout'),
      new DependencyUnavailable('device store', 'overloaded'),
    ]) {
      const res = await failingWith(err)
      assert.equal(res.statusCode, 503)
      assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/)
      const body = res.json()
      assert.equal(body.code, 9003)
      assert.equal(body.error, 'ServiceUnavailable')
      assert.doesNotMatch(body.msg, /ECONNREFUSED|6379|redis|database/, 'no internals in the answer')
    }
  })

  test('other failures keep their answers: a bug is a 500 without Retry-After, a client error its 4xx', async () => {
    const bug = await failingWith(new TypeError('x is undefined'))
    assert.equal(bug.statusCode, 500)
    assert.equal(bug.headers['retry-after'], undefined)
    const invalid = await failingWith(new AllotError('InvalidPayload', 'payload is forged'))
    assert.equal(invalid.statusCode, 400)
    assert.equal(invalid.headers['retry-after'], undefined)
  })
})
