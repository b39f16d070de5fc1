import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MYSQL_TEST_URL, sqlBackends } from '../helpers/sql-backends.js'
import { form, startTestApp, type TestApp } from '../helpers/test-app.js'

// Bad input never depends on the database, so SQLite is enough here; the per-backend suites cover the rest.
const [sqlite] = await sqlBackends()

describe('bad input gets a clear 4xx, never a 5xx', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp(await (sqlite?.createDatabaseUrl() ?? Promise.reject(new Error('no sqlite'))), {
      seed: true,
      env: { BODY_LIMIT_BYTES: '4096' },
    })
  })
  after(async () => {
    await t?.close()
    await sqlite?.cleanup()
  })

  const post = (payload: string, contentType: string) =>
    t.app.inject({
      method: 'POST',
      url: '/api/allocation/',
      payload,
      headers: { 'content-type': contentType },
    })

  const v1 = {
    unit_id: 1001,
    device_id: 1,
    ifa: 'i',
    unit_device_token: 'u',
    sdk_version: 3000,
    timezone: 'UTC',
  }
  const cases: [string, string, string, number, number, RegExp][] = [
    [
      'missing device_id',
      form({ ...v1, device_id: '' }),
      'application/x-www-form-urlencoded',
      400,
      1001,
      /device_id/,
    ],
    [
      'missing timezone',
      JSON.stringify({ ...v1, timezone: undefined }),
      'application/json',
      400,
      1001,
      /timezone is required/,
    ],
    [
      'device_id not a number',
      form({ ...v1, device_id: 'abc' }),
      'application/x-www-form-urlencoded',
      400,
      1001,
      /device_id must match/,
    ],
    [
      'device_id negative',
      JSON.stringify({ ...v1, device_id: -3 }),
      'application/json',
      400,
      1001,
      /device_id/,
    ],
    [
      'year_of_birth not a number',
      form({ ...v1, year_of_birth: '19x5' }),
      'application/x-www-form-urlencoded',
      400,
      1001,
      /year_of_birth/,
    ],
    [
      'unit_id as an object',
      JSON.stringify({ ...v1, unit_id: { a: 1 } }),
      'application/json',
      400,
      1001,
      /unit_id/,
    ],
    ['malformed JSON', '{"unit_id":1001,', 'application/json', 400, 1002, /malformed/],
    ['empty JSON body', '', 'application/json', 400, 1002, /malformed/],
    ['JSON array body', '[1,2]', 'application/json', 400, 1001, /body must be object/],
    ['wrong content type', 'unit_id=1001', 'text/plain', 415, 1003, /content-type/],
    [
      'oversized body',
      form({ ...v1, excluded: '1,'.repeat(4000) }),
      'application/x-www-form-urlencoded',
      413,
      1004,
      /BODY_LIMIT_BYTES/,
    ],
    [
      'unknown unit',
      form({ ...v1, unit_id: 9 }),
      'application/x-www-form-urlencoded',
      400,
      2001,
      /unit_id 9/,
    ],
  ]
  // Ids are plain decimal integers from 1 to 2^53 − 1: nothing is silently rounded or reinterpreted.
  for (const [what, value] of [
    ['an exponent overflowing to Infinity', '1e309'],
    ['an exponent', '1e3'],
    ['hex', '0x10'],
    ['binary', '0b11'],
    ['spaces', ' 5 '],
    ['a boolean', 'true'],
    ['2^53 + 1 (would round to another device)', '9007199254740993'],
    ['2^63', '9223372036854775808'],
    ['a fraction', '5.0'],
  ] as const)
    cases.push([
      `device_id as ${what}`,
      form({ ...v1, device_id: value }),
      'application/x-www-form-urlencoded',
      400,
      1001,
      /device_id/,
    ])
  for (const [what, body] of [
    ['a JSON array', { ...v1, device_id: [5] }],
    ['JSON true', { ...v1, device_id: true }],
    [
      'a JSON number past 2^53',
      '{"unit_id":1001,"device_id":9007199254740993,"ifa":"i","unit_device_token":"u","sdk_version":3000,"timezone":"UTC"}',
    ],
    [
      'JSON 1e309',
      '{"unit_id":1001,"device_id":1e309,"ifa":"i","unit_device_token":"u","sdk_version":3000,"timezone":"UTC"}',
    ],
  ] as const)
    cases.push([
      `device_id as ${what}`,
      typeof body === 'string' ? body : JSON.stringify(body),
      'application/json',
      400,
      1001,
      /device_id/,
    ])
  for (const [what, payload, type, status, code, msg] of cases) {
    test(`${what} → ${status} with code ${code}`, async () => {
      const res = await post(payload, type)
      assert.equal(res.statusCode, status, res.body)
      const body = res.json()
      assert.equal(body.code, code)
      assert.match(body.msg, msg)
    })
  }

  test('a POST without a body names the missing body', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/allocation/' })
    assert.equal(res.statusCode, 400)
    assert.match(res.json().msg, /body/)
  })

  test('an unknown path is a JSON 404', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/nothing-here?x=1' })
    assert.equal(res.statusCode, 404)
    assert.deepEqual(res.json(), {
      code: 1005,
      error: 'RouteNotFound',
      msg: 'no route for GET /api/nothing-here',
    })
  })

  test('every response carries the request id, echoing a valid incoming one', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'edge-123' },
    })
    assert.equal(res.headers['x-request-id'], 'edge-123')
    const generated = await t.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'bad id!' },
    })
    assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/)
  })

  test('the ops listener serves /docs/json: the OpenAPI description of every SDK and admin route', async () => {
    const res = await t.ops.inject({ method: 'GET', url: '/docs/json' })
    assert.equal(res.statusCode, 200)
    const spec = res.json()
    assert.match(spec.openapi, /^3\./)
    for (const path of [
      '/api/allocation/',
      '/api/impression/',
      '/api/unlock',
      '/api/click_redirect/',
      '/api/content_impression/',
      '/api/rewards',
      '/admin/campaigns/{id}',
    ])
      assert.ok(spec.paths[path], `${path} is documented`)
    assert.ok(spec.paths['/api/allocation/'].post.requestBody, 'with its request schema')
    assert.equal((await t.ops.inject({ method: 'GET', url: '/docs' })).statusCode < 400, true)
  })

  test('the ops listener serves /metrics: Prometheus text with request durations, cache and catalog gauges', async () => {
    await t.app.inject({ method: 'POST', url: '/api/allocation/', payload: { ...v1, device_id: 5 } })
    // The allocated device's registration is written in the background: scrape once it landed.
    let res = await t.ops.inject({ method: 'GET', url: '/metrics' })
    for (let i = 0; i < 100 && !/allot_device_loads_in_flight 0/.test(res.body); i++) {
      await new Promise((r) => setImmediate(r))
      res = await t.ops.inject({ method: 'GET', url: '/metrics' })
    }
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /text\/plain/)
    assert.match(
      res.body,
      /allot_http_request_duration_seconds_count\{route="\/api\/allocation\/",status="200"\} [1-9]/,
    )
    assert.match(res.body, /allot_device_cache_entries [1-9]/)
    assert.match(res.body, /allot_catalog_campaigns\{kind="content"\} [1-9]/)
    assert.match(res.body, /process_cpu_seconds_total/)
    assert.match(res.body, /allot_device_loads_in_flight 0/)
  })

  test('the public port has no /metrics or /docs: a 404 in the usual error shape', async () => {
    for (const url of ['/metrics', '/docs', '/docs/json', '/docs/static/index.html']) {
      const res = await t.app.inject({ method: 'GET', url })
      assert.equal(res.statusCode, 404, url)
      assert.deepEqual(res.json(), { code: 1005, error: 'RouteNotFound', msg: `no route for GET ${url}` })
    }
  })

  test('/healthz and /readyz answer on both listeners', async () => {
    for (const app of [t.app, t.ops])
      for (const url of ['/healthz', '/readyz'])
        assert.equal((await app.inject({ method: 'GET', url })).statusCode, 200, url)
  })
})

const mariadb = (await sqlBackends()).find((b) => b.name === 'mariadb')

describe('a failing dependency is a 5xx that shows no internals', { skip: mariadb?.skip }, () => {
  test('when the database vanishes under a running process, admin reads answer a generic 500', async () => {
    if (!mariadb) throw new Error('no mariadb backend')
    const url = await mariadb.createDatabaseUrl()
    const t = await startTestApp(url)
    try {
      assert.equal((await t.admin('GET', '/admin/units')).statusCode, 200)
      const { createConnection } = await import('mysql2/promise')
      const conn = await createConnection(MYSQL_TEST_URL)
      await conn.query(`drop database \`${url.split('/').pop()}\``)
      await conn.end()
      const res = await t.admin('GET', '/admin/units')
      assert.equal(res.statusCode, 500)
      assert.deepEqual(res.json(), {
        code: 9000,
        error: 'Internal',
        msg: 'internal error; see the server log for this request id',
      })
      assert.doesNotMatch(res.body, /units|Unknown database|sql/i)
    } finally {
      await t.close()
      await mariadb.cleanup()
    }
  })
})

describe('numbers in content config and other text fields are plain decimals', () => {
  test('device_id 1e309, hex, spaces or past 2^53 is a 400 and stores nothing', async () => {
    const backend = (await sqlBackends())[0]
    if (!backend) throw new Error('no sqlite backend')
    const t = await startTestApp(await backend.createDatabaseUrl(), { seed: true })
    try {
      for (const id of ['1e309', '0x10', '%205%20', '9007199254740993', '1e3', 'true']) {
        const read = await t.app.inject({ method: 'GET', url: `/api/content/config/?device_id=${id}` })
        assert.equal(read.statusCode, 400, `GET ${id}: ${read.body}`)
        const write = await t.app.inject({
          method: 'POST',
          url: '/api/content/config/',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: `device_id=${id}&type=channel&config=x`,
        })
        assert.equal(write.statusCode, 400, `POST ${id}: ${write.body}`)
        assert.match(write.json().msg, /device_id/)
      }
      const ok = await t.app.inject({ method: 'GET', url: '/api/content/config/?device_id=9007199254740991' })
      assert.equal(ok.statusCode, 200, ok.body)
    } finally {
      await t.close()
      await backend.cleanup()
    }
  })
})
