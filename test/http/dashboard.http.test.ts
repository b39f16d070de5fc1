import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { brotliDecompressSync } from 'node:zlib'
import { buildDashboard } from '../../scripts/build-dashboard.js'
import { createApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/config.js'
import { ADMIN_TOKEN, PAYLOAD_SECRET } from '../helpers/test-app.js'

const dir = mkdtempSync(join(tmpdir(), 'allot-dashboard-'))
const config = (name: string) =>
  loadConfig({
    DATABASE_URL: `sqlite:${join(dir, `${name}.sqlite`)}`,
    ADMIN_TOKEN,
    PAYLOAD_SECRET,
    LOG_LEVEL: 'silent',
    SEED_DEMO_DATA: 'false',
  })

describe('the dashboard page (GET /dashboard)', () => {
  const built = join(dir, 'built')
  let app: Awaited<ReturnType<typeof createApp>>
  before(async () => {
    const files = await buildDashboard(built)
    for (const name of ['index.html', 'dashboard.js', 'dashboard.css'])
      for (const suffix of ['', '.br', '.gz'])
        assert.ok(files.includes(name + suffix), `${name}${suffix} built`)
    app = await createApp({ config: config('built'), dashboardDir: built })
  })
  after(async () => {
    await app?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('the page needs no token, with and without the slash, under a self-only CSP', async () => {
    for (const url of ['/dashboard', '/dashboard/']) {
      const res = await app.inject({ method: 'GET', url })
      assert.equal(res.statusCode, 200, url)
      assert.match(String(res.headers['content-type']), /^text\/html/)
      assert.match(res.body, /<title>Allot dashboard<\/title>/)
      const csp = String(res.headers['content-security-policy'])
      assert.match(csp, /default-src 'none'/)
      assert.match(csp, /script-src 'self'(;|$)/)
      assert.match(csp, /frame-ancestors 'none'/)
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
    }
  })

  test('the page has no inline script or style and loads its bundle from this origin', async () => {
    const html = (await app.inject({ method: 'GET', url: '/dashboard' })).body
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script')
    assert.doesNotMatch(html, /<style|\sstyle="/, 'no inline style')
    assert.match(html, /<script type="module" src="\/dashboard\/dashboard.js"><\/script>/)
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin (no CDN)')
    const js = await app.inject({ method: 'GET', url: '/dashboard/dashboard.js' })
    assert.equal(js.statusCode, 200)
    assert.match(String(js.headers['content-type']), /javascript/)
    assert.match(js.body, /uPlot|u-legend/, 'uPlot is bundled in')
  })

  test('assets come precompressed to clients that accept brotli', async () => {
    const plain = await app.inject({ method: 'GET', url: '/dashboard/dashboard.js' })
    const br = await app.inject({
      method: 'GET',
      url: '/dashboard/dashboard.js',
      headers: { 'accept-encoding': 'br, gzip' },
    })
    assert.equal(br.headers['content-encoding'], 'br')
    assert.ok(br.rawPayload.length < plain.rawPayload.length / 2, 'smaller on the wire')
    assert.equal(brotliDecompressSync(br.rawPayload).toString(), plain.body)
  })

  test('an unknown asset is a 404; the data stays behind the admin token', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/dashboard/nope.js' })).statusCode, 404)
    assert.equal((await app.inject({ method: 'GET', url: '/admin/live' })).statusCode, 401)
  })

  test('without a build, /dashboard says how to make one', async () => {
    const bare = await createApp({ config: config('bare'), dashboardDir: join(dir, 'missing') })
    try {
      const res = await bare.inject({ method: 'GET', url: '/dashboard' })
      assert.equal(res.statusCode, 503)
      assert.match(res.body, /npm run build/)
    } finally {
      await bare.close()
    }
  })
})
