import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { buildDashboard } from '../../scripts/build-dashboard.js'
import { createApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/config.js'
import { PUBLIC_BASE_URL, sdk } from '../helpers/sdk.js'
import { ADMIN_TOKEN, demoAllocationFields, form, PAYLOAD_SECRET } from '../helpers/test-app.js'

// Wednesday 2026-11-25 12:30 in Seoul; with a fixed clock and random source the same request gets the same bytes.
const NOW = Date.UTC(2026, 10, 25, 3, 30)
const dir = mkdtempSync(join(tmpdir(), 'allot-compression-'))
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const GZIP = { 'accept-encoding': 'gzip, deflate, br' }

async function allot(name: string, env: Record<string, string>, dashboardDir?: string) {
  const config = loadConfig({
    DATABASE_URL: `sqlite:${join(dir, `${name}.sqlite`)}`,
    ADMIN_TOKEN,
    PAYLOAD_SECRET,
    LOG_LEVEL: 'silent',
    PUBLIC_BASE_URL,
    ...env,
  })
  return createApp({ config, clock: () => NOW, random: () => 0.5, ...(dashboardDir ? { dashboardDir } : {}) })
}

function allocate(app: FastifyInstance, url: string, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url,
    payload: form(demoAllocationFields(7)),
    headers: { ...FORM, ...headers },
  })
}

after(() => rmSync(dir, { recursive: true, force: true }))

describe('RESPONSE_COMPRESSION=gzip: Allot gzips JSON answers itself (no nginx in front)', () => {
  let app: FastifyInstance
  const built = join(dir, 'dashboard')
  before(async () => {
    await buildDashboard(built)
    app = await allot('gzip', { RESPONSE_COMPRESSION: 'gzip' }, built)
  })
  after(() => app?.close())

  test('an allocation answer goes gzipped to a client that accepts gzip and inflates to the very same bytes', async () => {
    for (const url of ['/api/allocation/', '/api/content_allocation/']) {
      const plain = await allocate(app, url)
      const gzipped = await allocate(app, url, GZIP)
      assert.equal(gzipped.statusCode, 200, gzipped.body)
      assert.equal(gzipped.headers['content-encoding'], 'gzip', url)
      assert.match(String(gzipped.headers.vary), /accept-encoding/i, 'caches keep both forms apart')
      assert.match(String(gzipped.headers['content-type']), /^application\/json; charset=utf-8/)
      assert.equal(Number(gzipped.headers['content-length']), gzipped.rawPayload.length)
      assert.ok(plain.rawPayload.length > 10_000, `${url}: a real answer (${plain.rawPayload.length} B)`)
      assert.ok(
        gzipped.rawPayload.length < plain.rawPayload.length / 5,
        `${url}: ${plain.rawPayload.length} B → ${gzipped.rawPayload.length} B`,
      )
      assert.ok(
        gunzipSync(gzipped.rawPayload).equals(plain.rawPayload),
        `${url}: byte-identical after inflating`,
      )
      assert.ok(JSON.parse(plain.body).campaigns.length > 10)
    }
  })

  test('a client without gzip gets plain JSON: no Accept-Encoding, identity, brotli only, or gzip refused', async () => {
    for (const accept of [undefined, 'identity', 'br', 'gzip;q=0, identity']) {
      const res = await allocate(
        app,
        '/api/allocation/',
        accept === undefined ? {} : { 'accept-encoding': accept },
      )
      assert.equal(res.statusCode, 200)
      assert.equal(res.headers['content-encoding'], undefined, `accept-encoding: ${accept}`)
      assert.equal(JSON.parse(res.body).code, 200, `accept-encoding: ${accept}`)
    }
  })

  test('answers under 1 KiB stay plain: a small JSON answer and an error', async () => {
    const categories = await app.inject({ method: 'GET', url: '/api/content/categories/', headers: GZIP })
    assert.equal(categories.statusCode, 200)
    assert.ok(categories.rawPayload.length < 1024, `${categories.rawPayload.length} B`)
    assert.equal(categories.headers['content-encoding'], undefined)
    assert.ok(Array.isArray(JSON.parse(categories.body).categories ?? JSON.parse(categories.body)))
    const refused = await app.inject({
      method: 'POST',
      url: '/api/allocation/',
      payload: 'unit_id=1001',
      headers: { ...FORM, ...GZIP },
    })
    assert.equal(refused.statusCode, 400)
    assert.equal(refused.headers['content-encoding'], undefined)
    assert.equal(typeof JSON.parse(refused.body).code, 'number')
  })

  test('events keep their headers: a beacon through a gzip client still says whether it was counted', async () => {
    const phone = sdk(
      { app, ops: app.ops, databaseUrl: '', admin: () => assert.fail(), close: () => app.close() },
      { device_id: 8, ifa: 'ifa-8', unit_device_token: 'user-8', unit_id: 1001, app_id: 100 },
      () => NOW,
    )
    const item = (await phone.pool())[0] ?? assert.fail('an item')
    const url = new URL(item.impression_urls?.[0] ?? '')
    const path = `${url.pathname}${url.search}`
      .replace('__place__', 'lockscreen')
      .replace('__position__', '1')
    const beacon = await app.inject({ method: 'GET', url: path, headers: GZIP })
    assert.equal(beacon.statusCode, 200, beacon.body)
    assert.equal(beacon.headers['x-allot-counted'], 'counted')
    assert.deepEqual(beacon.json(), { msg: 'ok', status: 200 })
  })

  test('the CSV report inflates to the same download, and the dashboard files come as pre-compressed', async () => {
    const report = (headers: Record<string, string>) =>
      app.inject({
        method: 'GET',
        url: '/admin/reports/campaigns?from=2026-11-01&to=2026-11-30&format=csv',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers },
      })
    const plain = await report({})
    const csv = await report(GZIP)
    assert.equal(csv.statusCode, 200, csv.body)
    assert.match(String(csv.headers['content-type']), /^text\/csv/)
    assert.match(String(csv.headers['content-disposition']), /attachment; filename="campaigns-/)
    const body = csv.headers['content-encoding'] === 'gzip' ? gunzipSync(csv.rawPayload) : csv.rawPayload
    assert.ok(body.equals(plain.rawPayload), 'the same CSV, compressed or not')
    for (const url of ['/dashboard', '/dashboard/dashboard.js']) {
      const plain = await app.inject({ method: 'GET', url })
      const gzipped = await app.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip' } })
      assert.equal(gzipped.statusCode, 200, url)
      assert.equal(gzipped.headers['content-encoding'], 'gzip', `${url}: the pre-compressed file`)
      assert.equal(gunzipSync(gzipped.rawPayload).toString(), plain.body, url)
    }
  })
})

describe('RESPONSE_COMPRESSION unset (off, the default behind nginx): answers are never compressed', () => {
  let app: FastifyInstance
  before(async () => {
    app = await allot('off', {})
  })
  after(() => app?.close())

  test('a client that accepts gzip gets the plain allocation answer', async () => {
    for (const url of ['/api/allocation/', '/api/content_allocation/']) {
      const res = await allocate(app, url, GZIP)
      assert.equal(res.statusCode, 200)
      assert.ok(res.rawPayload.length > 10_000)
      assert.equal(res.headers['content-encoding'], undefined, url)
      assert.equal(JSON.parse(res.body).code, 200)
    }
  })
})
