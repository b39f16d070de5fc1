import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { freePort } from './helpers/net.js'

/** The real entry point, started the way `npm start` starts it. */
function startServer(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { PATH: process.env.PATH, OPS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** A free port whose next one is free too (for WORKERS=2 ops listeners on OPS_PORT and OPS_PORT + 1). */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (port >= 65535) continue
    const probe = createServer().listen(port + 1, '127.0.0.1')
    const free = await new Promise<boolean>((resolve) => {
      probe.once('listening', () => resolve(true)).once('error', () => resolve(false))
    })
    probe.close()
    if (free) return port
  }
}

async function waitUntilReady(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`)
    try {
      if ((await fetch(url)).status === 200) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('server did not become ready in 20 s')
}

describe('the server process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'allot-server-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('starts embedded with no configuration, seeds, serves allocation and stops cleanly on SIGTERM', async () => {
    const port = await freePort()
    const opsPort = await freePort()
    const child = startServer({
      PORT: String(port),
      HOST: '127.0.0.1',
      OPS_PORT: String(opsPort),
      DATABASE_URL: `sqlite:${join(dir, 'a.sqlite')}`,
    })
    let output = ''
    child.stdout?.on('data', (chunk) => {
      output += chunk
    })
    try {
      await waitUntilReady(`http://127.0.0.1:${port}/readyz`, child)
      const res = await fetch(`http://127.0.0.1:${port}/api/allocation/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'unit_id=1001&device_id=42&ifa=ifa-42&unit_device_token=u&sdk_version=3000&timezone=Asia%2FSeoul',
      })
      assert.equal(res.status, 200)
      const body = (await res.json()) as { campaigns: { is_ad: boolean }[] }
      assert.ok(body.campaigns.some((c) => c.is_ad) && body.campaigns.some((c) => !c.is_ad))
      assert.match(output, /admin_token/, 'the generated admin token is printed')
      for (const path of ['/metrics', '/docs/json', '/docs']) {
        assert.equal((await fetch(`http://127.0.0.1:${opsPort}${path}`)).status, 200, `ops ${path}`)
        assert.equal((await fetch(`http://127.0.0.1:${port}${path}`)).status, 404, `public ${path}`)
      }
      assert.equal((await fetch(`http://127.0.0.1:${opsPort}/readyz`)).status, 200)
    } finally {
      child.kill('SIGTERM')
    }
    const [code] = await once(child, 'exit')
    assert.equal(code, 0)
    assert.match(output, /shutting down/)
  })

  test('WORKERS=2 migrates once, serves from two processes, each with its ops listener, and stops them all on SIGTERM', async () => {
    const port = await freePort()
    const opsPort = await freePortPair()
    const child = startServer({
      PORT: String(port),
      HOST: '127.0.0.1',
      WORKERS: '2',
      OPS_PORT: String(opsPort),
      DATABASE_URL: `sqlite:${join(dir, 'workers.sqlite')}`,
    })
    let output = ''
    child.stdout?.on('data', (chunk) => {
      output += chunk
    })
    try {
      await waitUntilReady(`http://127.0.0.1:${port}/readyz`, child)
      const publicListening = () =>
        [...output.matchAll(/^.*"pid":(\d+).*Server listening.*$/gm)].filter(
          (m) => !m[0].includes('"listener":"ops"'),
        )
      for (let i = 0; i < 200 && publicListening().length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100))
      }
      const listening = new Set(publicListening().map((m) => m[1]))
      assert.equal(listening.size, 2, 'two worker processes listen')
      const opsPids = new Set<string>()
      for (const ops of [opsPort, opsPort + 1]) {
        const listener = new RegExp(
          `"pid":(\\d+).*"listener":"ops".*Server listening at http://127.0.0.1:${ops}"`,
        )
        for (let i = 0; i < 100 && !listener.test(output); i++) await new Promise((r) => setTimeout(r, 100))
        opsPids.add(listener.exec(output)?.[1] ?? `none on ${ops}`)
        assert.equal(
          (await fetch(`http://127.0.0.1:${ops}/metrics`)).status,
          200,
          `worker ops listener on ${ops}`,
        )
      }
      assert.ok(!opsPids.has(''), String([...opsPids]))
      assert.equal(opsPids.size, 2, 'OPS_PORT and OPS_PORT + 1 belong to two different worker processes')
      assert.equal((output.match(/seeded the demo catalog/g) ?? []).length, 1, 'seeded once, by the primary')
      const res = await fetch(`http://127.0.0.1:${port}/api/allocation/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          unit_id: 1001,
          device_id: 5,
          ifa: 'ifa-5',
          unit_device_token: 'u',
          sdk_version: 3000,
          timezone: 'UTC',
        }),
      })
      assert.equal(res.status, 200)
    } finally {
      child.kill('SIGTERM')
    }
    const [code] = await once(child, 'exit')
    assert.equal(code, 0)
    assert.equal((output.match(/"msg":"shutting down"/g) ?? []).length, 2, 'each worker shut down gracefully')
  })

  test('a bad variable stops the boot with exit 1 and a message naming it', async () => {
    const child = startServer({ PORT: 'not-a-port', DATABASE_URL: `sqlite:${join(dir, 'b.sqlite')}` })
    let stderr = ''
    child.stderr?.on('data', (chunk) => {
      stderr += chunk
    })
    const [code] = await once(child, 'exit')
    assert.equal(code, 1)
    assert.match(stderr, /PORT must be integer/)
  })

  test('production mode without ADMIN_TOKEN refuses to start', async () => {
    const child = startServer({ DATABASE_URL: 'mysql://root@127.0.0.1:3306/whatever' })
    let stderr = ''
    child.stderr?.on('data', (chunk) => {
      stderr += chunk
    })
    const [code] = await once(child, 'exit')
    assert.equal(code, 1)
    assert.match(stderr, /ADMIN_TOKEN is required/)
  })
})
