import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingHttpHeaders, request, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { deflateSync } from 'node:zlib'
import { freePort } from '../helpers/net.js'
import { requireComponent } from '../helpers/requirement.js'

const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx'
const skip = requireComponent(
  existsSync(NGINX) ? undefined : `nginx is not installed at ${NGINX} (apt-get install -y nginx)`,
  'nginx edge suite',
)

type Answer = { status: number; headers: IncomingHttpHeaders; body: string }

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
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      )
    })
    req.on('error', reject)
    if (options.body !== undefined) req.write(options.body)
    req.end()
  })
}

type Seen = { method: string; url: string; headers: IncomingHttpHeaders; bytes: number }

/** The config nginx runs in the test: deploy/nginx/allot.conf with its hosts and port replaced. */
function nginxConfig(dir: string, ports: { edge: number; allot: number; legacy: number }): string {
  const site = readFileSync('deploy/nginx/allot.conf', 'utf8')
    .replace(/server allot-1:8080/, `server 127.0.0.1:${ports.allot}`)
    .replace(/server allot-2:8080/, `server 127.0.0.1:${ports.allot}`)
    .replace(/server legacy:8000/, `server 127.0.0.1:${ports.legacy}`)
    .replace(/listen 80;/, `listen 127.0.0.1:${ports.edge};`)
    .replace(/access_log \S+/, `access_log ${join(dir, 'access.log')}`)
  assert.ok(site.includes(`127.0.0.1:${ports.allot}`) && site.includes(`127.0.0.1:${ports.edge}`))
  for (const temp of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    mkdirSync(join(dir, temp), { recursive: true })
  return `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 256; }
http {
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
${site}
}
`
}

describe('nginx in front of Allot and the legacy application (real nginx)', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'allot-edge-'))
  const legacySeen: Seen[] = []
  let allotLog = ''
  let allot: ChildProcess
  let nginx: ChildProcess
  let legacy: Server
  let edge = 0

  before(async () => {
    const ports = { edge: await freePort(), allot: await freePort(), legacy: await freePort() }
    edge = ports.edge
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

    writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, ports))
    nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    for (let i = 0; i < 100; i++) {
      if (nginx.exitCode !== null)
        throw new Error(`nginx exited: ${readFileSync(join(dir, 'error.log'), 'utf8')}`)
      try {
        await send(edge, 'GET', '/nginx-up')
        break
      } catch {
        await new Promise((r) => setTimeout(r, 50))
      }
    }
  })

  after(async () => {
    nginx?.kill('SIGTERM')
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
