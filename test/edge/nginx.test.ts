import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingHttpHeaders, request, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { deflateSync, gunzipSync } from 'node:zlib'
import { freePort } from '../helpers/net.js'
import { NGINX, type Nginx, startNginx } from '../helpers/nginx.js'
import { requireComponent } from '../helpers/requirement.js'
import { sdk, viaHttp } from '../helpers/sdk.js'
import type { V1ItemType } from '../helpers/v1-wire.js'

const skip = requireComponent(
  existsSync(NGINX) ? undefined : `nginx is not installed at ${NGINX} (apt-get install -y nginx)`,
  'nginx edge suite',
)

const ADMIN_TOKEN = 'edge-admin-token-0123456789'

type Answer = { status: number; headers: IncomingHttpHeaders; body: string; raw: Buffer }

/** A raw HTTP request (fetch would normalise `..` in the path before sending it). */
function send(
  port: number,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: options.headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const raw = Buffer.concat(chunks)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString(), raw })
      })
    })
    req.on('error', reject)
    if (options.body !== undefined) req.write(options.body)
    req.end()
  })
}

type Seen = { method: string; url: string; headers: IncomingHttpHeaders; bytes: number }

describe('nginx in front of Allot and the legacy application (real nginx)', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'allot-edge-'))
  const legacySeen: Seen[] = []
  let allotLog = ''
  let allot: ChildProcess
  let nginx: Nginx | undefined
  let legacy: Server
  let edge = 0
  let allotPort = 0

  before(async () => {
    const ports = { edge: await freePort(), allot: await freePort(), legacy: await freePort() }
    edge = ports.edge
    allotPort = ports.allot
    legacy = createHttpServer((req, res) => {
      let bytes = 0
      req.on('data', (c: Buffer) => {
        bytes += c.length
      })
      req.on('end', () => {
        legacySeen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes })
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ legacy: true, url: req.url, bytes }))
      })
    })
    legacy.listen(ports.legacy, '127.0.0.1')
    await once(legacy, 'listening')

    allot = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: {
        PATH: process.env.PATH,
        PORT: String(ports.allot),
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(dir, 'allot.sqlite')}`,
        // Per-request lines (with the request id) are logged at debug.
        LOG_LEVEL: 'debug',
        TRUST_PROXY: 'true',
        ADMIN_TOKEN,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    allot.stdout?.on('data', (chunk) => {
      allotLog += chunk
    })
    for (let i = 0; i < 300; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${ports.allot}/readyz`)).status === 200) break
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100))
    }

    nginx = await startNginx(dir, { edge: ports.edge, allot: [ports.allot], legacy: ports.legacy })
  })

  after(async () => {
    await nginx?.stop()
    if (allot && allot.exitCode === null) {
      allot.kill('SIGTERM')
      await once(allot, 'exit')
    }
    legacy?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Sends through nginx and tells whether the legacy stand-in saw the request. */
  async function through(method: string, path: string, options: Parameters<typeof send>[3] = {}) {
    const before = legacySeen.length
    const answer = await send(edge, method, path, options)
    return { ...answer, legacy: legacySeen.slice(before) }
  }
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' }

  test('allocation reaches Allot with a form body and with a JSON body, with and without the slash', async () => {
    for (const path of [
      '/api/allocation/',
      '/api/allocation',
      '/api/content_allocation/',
      '/api/content_allocation',
    ]) {
      const form = await through('POST', path, {
        headers: formHeaders,
        body: 'unit_id=1001&device_id=7&ifa=i7&unit_device_token=u7&sdk_version=3000&timezone=Asia%2FSeoul',
      })
      assert.equal(form.status, 200, `${path}: ${form.body}`)
      assert.deepEqual(form.legacy, [])
      assert.ok(JSON.parse(form.body).campaigns.length > 0, path)
      const json = await through('POST', path, {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          unit_id: 1001,
          device_id: 8,
          ifa: 'i8',
          unit_device_token: 'u8',
          sdk_version: 3000,
          timezone: 'UTC',
        }),
      })
      assert.equal(json.status, 200, `${path} (JSON): ${json.body}`)
      assert.deepEqual(json.legacy, [])
    }
  })

  test('answers of 1 KiB or more go gzipped to a client that accepts gzip, byte-identical after inflating; others get plain JSON', async () => {
    const gzip = { ...formHeaders, 'accept-encoding': 'gzip' }
    const ask = (path: string, sdkVersion: number, headers: Record<string, string>) =>
      through('POST', path, {
        headers,
        body: `unit_id=1001&device_id=21&ifa=i21&unit_device_token=u21&sdk_version=${sdkVersion}&timezone=Asia%2FSeoul`,
      })
    // An SDK below 1501 gets no ads, so no randomly ordered tier: the same request gets the same bytes (the
    // contents' order is a score, the payloads deterministic tokens). One is asked before and one after the
    // gzipped one, in case a second ticks in between.
    for (const path of ['/api/allocation/', '/api/content_allocation/']) {
      const before = await ask(path, 1500, formHeaders)
      const gzipped = await ask(path, 1500, gzip)
      const after = await ask(path, 1500, formHeaders)
      for (const plain of [before, after]) {
        assert.equal(plain.status, 200, plain.body)
        assert.equal(plain.headers['content-encoding'], undefined, `${path}: plain without Accept-Encoding`)
        assert.ok(JSON.parse(plain.body).campaigns.length > 10)
      }
      assert.ok(before.raw.length > 10_000, `${path}: a real answer (${before.raw.length} B)`)
      assert.equal(gzipped.status, 200)
      assert.equal(gzipped.headers['content-encoding'], 'gzip', path)
      assert.match(String(gzipped.headers.vary), /Accept-Encoding/)
      assert.match(String(gzipped.headers['content-type']), /^application\/json/)
      assert.ok(
        gzipped.raw.length < before.raw.length / 5,
        `${path}: ${before.raw.length} B → ${gzipped.raw.length} B`,
      )
      const inflated = gunzipSync(gzipped.raw)
      assert.ok(
        inflated.equals(before.raw) || inflated.equals(after.raw),
        `${path}: byte-identical after inflating`,
      )
      assert.deepEqual(gzipped.legacy, [])
    }
    // With ads (whose tie order is random per request), the same items and settings after inflating.
    const byId = (text: string) => {
      const answer = JSON.parse(text)
      answer.campaigns.sort((a: { id: number }, b: { id: number }) => a.id - b.id)
      return answer
    }
    const withAds = await ask('/api/allocation/', 3000, gzip)
    assert.equal(withAds.headers['content-encoding'], 'gzip')
    const inflated = gunzipSync(withAds.raw).toString()
    assert.ok(JSON.parse(inflated).campaigns.some((c: { is_ad: boolean }) => c.is_ad))
    assert.deepEqual(byId(inflated), byId((await ask('/api/allocation/', 3000, formHeaders)).body))
    // Under 1 KiB stays plain: the categories list, an error.
    const small = await through('GET', '/api/content/categories/', { headers: { 'accept-encoding': 'gzip' } })
    assert.equal(small.status, 200)
    assert.ok(small.raw.length < 1024, `${small.raw.length} B`)
    assert.equal(small.headers['content-encoding'], undefined)
    assert.ok(JSON.parse(small.body))
    const refused = await through('POST', '/api/allocation/', { headers: gzip, body: 'unit_id=1001' })
    assert.equal(refused.status, 400)
    assert.equal(refused.headers['content-encoding'], undefined)
    assert.equal(typeof JSON.parse(refused.body).code, 'number')
    // The legacy application's answers are left as they were, even a large JSON one.
    const path = `/accounts/?q=${'x'.repeat(3000)}`
    const legacy = await through('GET', path, { headers: { 'accept-encoding': 'gzip' } })
    assert.equal(legacy.status, 200)
    assert.ok(legacy.raw.length > 3000)
    assert.equal(legacy.headers['content-encoding'], undefined, 'legacy answers are not touched')
    assert.equal(JSON.parse(legacy.body).url, path)
    assert.equal(legacy.legacy[0]?.headers['accept-encoding'], 'gzip', 'and legacy sees the header as sent')
  })

  test('content endpoints reach Allot, query strings intact', async () => {
    for (const path of [
      '/api/content/categories/',
      '/api/content/channels?ids=1,2',
      '/api/content/config/?device_id=77',
    ]) {
      const res = await through('GET', path)
      assert.equal(res.status, 200, `${path}: ${res.body}`)
      assert.deepEqual(res.legacy, [], path)
    }
    const config = await through('GET', '/api/content/config?device_id=78')
    assert.equal(JSON.parse(config.body).device_id, 78, 'the query string arrived')
  })

  test('event endpoints reach Allot (which rejects these forged payloads and checks itself)', async () => {
    const impression = await through('POST', '/api/impression/', {
      headers: formHeaders,
      body: 'click_campaign_payload=forged.x&device_id=1&unit_id=1001&ifa=i&unit_device_token=u&click_type=u&reward=1',
    })
    assert.equal(impression.status, 400, impression.body)
    assert.equal(JSON.parse(impression.body).code, 3001)
    assert.deepEqual(impression.legacy, [])
    const click = await through(
      'GET',
      '/api/click_redirect?unit_id=1001&device_id=1&ifa=i&campaign_name=x&check=0',
    )
    assert.equal(click.status, 400, click.body)
    assert.equal(JSON.parse(click.body).code, 3005)
    assert.deepEqual(click.legacy, [])
  })

  test('the other SDK paths reach Allot, with and without the slash', async () => {
    const paths: [string, string][] = [
      ['POST', '/api/unlock'],
      ['POST', '/api/unlock/'],
      ['GET', '/api/external/click_redirect/?payload=forged.x&device_id=1&unit_id=1001&campaign_id=1'],
      ['GET', '/api/external/click_redirect?payload=forged.x&device_id=1&unit_id=1001&campaign_id=1'],
      ['GET', '/api/content_impression/?data=forged'],
      ['GET', '/api/content_impression?data=forged'],
      ['POST', '/api/rewards'],
      ['POST', '/api/rewards/'],
    ]
    for (const [method, path] of paths) {
      const res = await through(method, path, method === 'POST' ? { headers: formHeaders, body: 'a=1' } : {})
      assert.deepEqual(res.legacy, [], `${path} must not reach legacy`)
      assert.ok(res.status < 500, `${path}: ${res.status} ${res.body}`)
      // Allot's own answer (an SDK error for these forged requests): JSON with a stable numeric code.
      assert.equal(typeof JSON.parse(res.body).code, 'number', `${path}: ${res.body}`)
    }
    const installed_apps = deflateSync('com.kakao.talk,com.android.chrome').toString('base64')
    for (const path of ['/api/update_installed_apps/', '/api/update_installed_apps']) {
      const res = await through('POST', path, {
        headers: formHeaders,
        body: new URLSearchParams({ ifa: 'edge-ifa', app_id: '7', installed_apps }).toString(),
      })
      assert.equal(res.status, 200, `${path}: ${res.body}`)
      assert.deepEqual(JSON.parse(res.body), { update_period: 86400 })
      assert.deepEqual(res.legacy, [])
    }
  })

  test('near misses and every other path reach the legacy application', async () => {
    const cases: [string, string, string][] = [
      ['POST', '/api/allocationx', '/api/allocationx'],
      ['POST', '/api/allocation/extra', '/api/allocation/extra'],
      // nginx routes on the normalised path (/api/admin: not Allot's) and, as before Allot existed, hands
      // legacy the request line unchanged.
      ['GET', '/api/allocation/../admin', '/api/allocation/../admin'],
      ['GET', '/admin/units', '/admin/units'],
      ['GET', '/api/content/other/', '/api/content/other/'],
      ['POST', '/api/unlockx', '/api/unlockx'],
      ['POST', '/api/rewards/extra', '/api/rewards/extra'],
      ['GET', '/api/external/other/', '/api/external/other/'],
      ['GET', '/api/content_impressions/', '/api/content_impressions/'],
      ['GET', '/', '/'],
      ['GET', '/accounts/login/?next=/home&x=1', '/accounts/login/?next=/home&x=1'],
    ]
    for (const [method, path, arrived] of cases) {
      const res = await through(method, path, method === 'POST' ? { headers: formHeaders, body: 'a=1' } : {})
      assert.equal(res.status, 200, `${path}: ${res.body}`)
      assert.equal(res.legacy.length, 1, `${path} reached legacy`)
      assert.equal(res.legacy[0]?.url, arrived, `${path} arrived as ${arrived}`)
      assert.equal(JSON.parse(res.body).legacy, true)
    }
  })

  test('HEAD works on both sides and never becomes a 5xx', async () => {
    const legacyHead = await through('HEAD', '/accounts/login/')
    assert.equal(legacyHead.status, 200)
    assert.equal(legacyHead.legacy[0]?.method, 'HEAD')
    const allotHead = await through('HEAD', '/api/content/categories/')
    assert.ok(allotHead.status < 500, `HEAD on Allot: ${allotHead.status}`)
    assert.deepEqual(allotHead.legacy, [])
  })

  test('large bodies: Allot paths stop at 64 KB at the edge, legacy gets big uploads intact', async () => {
    const big = await through('POST', '/api/allocation/', {
      headers: formHeaders,
      body: `unit_id=1001&device_id=7&installed_packages=${'a'.repeat(100_000)}`,
    })
    assert.equal(big.status, 413)
    assert.equal(JSON.parse(big.body).code, 1004, 'JSON with the same code Allot uses')
    assert.deepEqual(big.legacy, [])
    const upload = await through('POST', '/media/upload', {
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(200_000, 7),
    })
    assert.equal(upload.status, 200)
    assert.equal(upload.legacy[0]?.bytes, 200_000)
  })

  test('the request id: kept when given, generated when absent, seen by both sides and logged by Allot', async () => {
    const given = await through('POST', '/api/allocation/', {
      headers: { ...formHeaders, 'x-request-id': 'edge-test-42' },
      body: 'unit_id=1001&device_id=9',
    })
    assert.equal(given.headers['x-request-id'], 'edge-test-42')
    const toLegacy = await through('GET', '/accounts/', { headers: { 'x-request-id': 'edge-test-43' } })
    assert.equal(toLegacy.legacy[0]?.headers['x-request-id'], 'edge-test-43')
    assert.equal(toLegacy.legacy[0]?.headers['x-forwarded-for'], '127.0.0.1')

    const generated = await through('POST', '/api/allocation/', {
      headers: formHeaders,
      body: 'unit_id=1001&device_id=9',
    })
    assert.match(String(generated.headers['x-request-id']), /^[0-9a-f]{32}$/)
    const legacyGenerated = await through('GET', '/accounts/')
    assert.match(String(legacyGenerated.legacy[0]?.headers['x-request-id']), /^[0-9a-f]{32}$/)
    const unusable = await through('GET', '/accounts/', {
      headers: { 'x-request-id': 'has spaces; and more' },
    })
    assert.match(
      String(unusable.legacy[0]?.headers['x-request-id']),
      /^[0-9a-f]{32}$/,
      'replaced, not passed on',
    )

    for (let i = 0; i < 50 && !allotLog.includes(String(generated.headers['x-request-id'])); i++)
      await new Promise((r) => setTimeout(r, 20))
    assert.match(allotLog, /"reqId":"edge-test-42"/)
    assert.ok(allotLog.includes(`"reqId":"${generated.headers['x-request-id']}"`))
  })

  test('5,000 phones behind one address: each beacon, unlock and landing counted and paid; a flooding phone is limited', async () => {
    const DEVICES = 5_000
    const send = viaHttp(`http://127.0.0.1:${edge}`)
    const phone = (n: number) =>
      sdk(send, {
        device_id: 900_000 + n,
        ifa: `nat-${n}`,
        unit_device_token: `nat-user-${n}`,
        unit_id: 1001,
        app_id: 1,
      })
    /** Runs `work` for 0..count−1, `parallel` at a time. */
    const each = async (count: number, parallel: number, work: (i: number) => Promise<void>) => {
      let next = 0
      await Promise.all(
        Array.from({ length: parallel }, async () => {
          while (next < count) await work(next++)
        }),
      )
    }
    const tally = new Map<string, number>()
    const note = (what: string) => tally.set(what, (tally.get(what) ?? 0) + 1)
    const campaigns = new Map<number, number>()
    await each(DEVICES, 24, async (n) => {
      const p = phone(n)
      // Only ads (no content category matches), so each answer stays small.
      const pool = await p.pool({ categories: 'none-such' })
      const ad = pool.find((c: V1ItemType) => c.is_ad && c.unlock_reward > 0 && c.landing_reward > 0)
      assert.ok(ad, `an ad for device ${n}`)
      campaigns.set(ad.id, (campaigns.get(ad.id) ?? 0) + 1)
      const beacon = await p.impress(ad)
      assert.deepEqual([beacon.statusCode, beacon.json()], [200, { msg: 'ok', status: 200 }])
      note(`beacon ${beacon.headers['x-allot-counted']}`)
      const unlock = await p.unlock(ad)
      assert.equal(unlock.statusCode, 200, unlock.body)
      const received = unlock.json().reward_received
      note(received === ad.unlock_reward + ad.base_reward ? 'unlock paid' : `unlock ${received}`)
      const landing = await p.land(ad)
      assert.equal(landing.statusCode, 302, landing.body)
      note(`landing ${landing.headers['x-allot-reward']}`)
    })
    assert.deepEqual(
      Object.fromEntries(tally),
      { 'beacon counted': DEVICES, 'unlock paid': DEVICES, 'landing granted': DEVICES },
      'every phone counted and paid as if it had its own address',
    )
    // The delivery reports agree: per campaign, one impression, unlock and click per phone.
    const day = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Seoul' }).format(Date.now())
    const report = await fetch(
      `http://127.0.0.1:${allotPort}/admin/reports/campaigns?from=${day}&to=${day}`,
      {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      },
    )
    type Row = { campaign_id: number; impressions: number; clicks: number; unlocks: number }
    const { rows } = (await report.json()) as { rows: Row[] }
    for (const [wireId, phones] of campaigns) {
      const row = rows.find((r) => r.campaign_id === wireId - 1_000_000_000)
      assert.ok(row, `a report row for ${wireId}`)
      assert.ok(
        row.impressions >= phones && row.clicks >= phones && row.unlocks >= phones,
        `${wireId}: ${JSON.stringify(row)} for ${phones} phones`,
      )
    }

    // One phone flooding beacons and unlocks through the same address is still limited.
    const flood = phone(DEVICES + 1)
    const items = (await flood.pool()).filter((c: V1ItemType) =>
      c.impression_urls?.[0]?.includes('/api/content_impression/'),
    )
    const outcomes = new Map<string, number>()
    for (let i = 0; i < 130; i++) {
      const res = await flood.impress(items[i % items.length] ?? assert.fail('an item'))
      assert.equal(res.statusCode, 200)
      const outcome = String(res.headers['x-allot-counted'])
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    }
    assert.equal(outcomes.get('limited'), 10, `120 a minute, then limited: ${JSON.stringify([...outcomes])}`)
  })

  test('when Allot is unreachable the SDK gets a JSON 503 with a stable code; legacy is unaffected', async () => {
    allot.kill('SIGTERM')
    await once(allot, 'exit')
    const res = await through('POST', '/api/allocation/', {
      headers: formHeaders,
      body: 'unit_id=1001&device_id=7',
    })
    assert.equal(res.status, 503)
    assert.match(String(res.headers['content-type']), /application\/json/)
    assert.equal(JSON.parse(res.body).code, 9003)
    assert.deepEqual(res.legacy, [])
    assert.equal((await through('GET', '/')).status, 200)
  })
})
