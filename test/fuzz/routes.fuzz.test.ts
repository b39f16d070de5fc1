import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import { sqlBackends } from '../helpers/sql-backends.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/test-app.js'

/*
 * 10,000 requests built from the OpenAPI description of every route: each field absent, well-formed or of
 * any other JSON type, with the numbers that broke parsers before (1e309, 2^53 + 1, hex, …), as JSON,
 * as a form or as garbage. Whatever arrives, the answer is never a 5xx.
 */

type Operation = {
  method: string
  path: string
  params: string[]
  query: string[]
  body: string[]
}

const NASTY = [
  '',
  '0',
  '-1',
  '1e309',
  '1e3',
  '0x10',
  '0b11',
  ' 5 ',
  '5.0',
  'true',
  '[5]',
  '9007199254740993',
  '9223372036854775808',
  'NaN',
  '__campaign_payload__',
  '서울특별시 관악구',
  'a\r\nb',
  '\u0000',
  '%00',
  'x'.repeat(5000),
  'javascript:alert(1)',
]
const value = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
)
const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v))

function operations(spec: { paths: Record<string, Record<string, Record<string, unknown>>> }): Operation[] {
  const out: Operation[] = []
  for (const [path, methods] of Object.entries(spec.paths)) {
    if (path.startsWith('/docs')) continue
    for (const [method, op] of Object.entries(methods)) {
      const parameters = (op.parameters ?? []) as { in: string; name: string }[]
      const content = (op.requestBody as { content?: Record<string, { schema?: { properties?: object } }> })
        ?.content
      const bodySchema = content ? Object.values(content)[0]?.schema : undefined
      out.push({
        method: method.toUpperCase(),
        path,
        params: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        query: parameters.filter((p) => p.in === 'query').map((p) => p.name),
        body: Object.keys(bodySchema?.properties ?? {}),
      })
    }
  }
  return out
}

const [sqlite] = await sqlBackends()

describe('fuzz: every route, 10,000 generated requests', () => {
  let t: TestApp
  let ops: Operation[]
  before(async () => {
    t = await startTestApp(await (sqlite?.createDatabaseUrl() ?? Promise.reject(new Error('no sqlite'))), {
      seed: true,
      env: { EVENT_RATE_LIMIT_PER_MINUTE: '0' },
    })
    ops = operations((await t.ops.inject({ method: 'GET', url: '/docs/json' })).json())
  })
  after(async () => {
    await t?.close()
    await sqlite?.cleanup()
  })

  test('no request gets a 5xx', async () => {
    assert.ok(ops.length >= 20, `${ops.length} operations documented`)
    const request = fc.record({
      op: fc.nat({ max: 10_000 }),
      fields: fc.dictionary(fc.string({ maxLength: 3 }), fc.boolean(), { maxKeys: 2 }),
      picks: fc.array(fc.option(value, { nil: undefined }), { minLength: 40, maxLength: 40 }),
      encoding: fc.constantFrom('json', 'form', 'garbage', 'none'),
      admin: fc.boolean(),
    })
    let seen = 0
    await fc.assert(
      fc.asyncProperty(request, async ({ op: which, picks, encoding, admin }) => {
        const op = ops[which % ops.length] as Operation
        let i = 0
        const next = () => picks[i++ % picks.length]
        let url = op.path
        for (const name of op.params) url = url.replace(`{${name}}`, encodeURIComponent(text(next() ?? '1')))
        const query = new URLSearchParams()
        for (const name of op.query) {
          const v = next()
          if (v !== undefined) query.append(name, text(v))
        }
        const body: Record<string, unknown> = {}
        for (const name of op.body) {
          const v = next()
          if (v !== undefined) body[name] = v
        }
        const headers: Record<string, string> = admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}
        let payload: string | undefined
        if (op.method !== 'GET' && op.method !== 'DELETE' && encoding !== 'none') {
          if (encoding === 'json') {
            headers['content-type'] = 'application/json'
            payload = JSON.stringify(body)
          } else if (encoding === 'form') {
            headers['content-type'] = 'application/x-www-form-urlencoded'
            payload = new URLSearchParams(
              Object.entries(body).map(([k, v]): [string, string] => [k, text(v)]),
            ).toString()
          } else {
            headers['content-type'] = text(next() ?? 'application/json')
            payload = text(next() ?? '{')
          }
        }
        const q = query.toString()
        const res = await t.app.inject({
          method: op.method as 'GET',
          url: q ? `${url}?${q}` : url,
          headers,
          ...(payload === undefined ? {} : { payload }),
        })
        seen++
        assert.ok(
          res.statusCode < 500,
          `${op.method} ${url}?${q} ${payload ?? ''} → ${res.statusCode} ${res.body}`,
        )
      }),
      { numRuns: 10_000, seed: 20261125 },
    )
    assert.equal(seen, 10_000)
  })
})
