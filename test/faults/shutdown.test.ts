import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import SQLite from 'better-sqlite3'
import { Agent, fetch as undiciFetch } from 'undici'
import { freePort } from '../helpers/net.js'

const ADMIN_TOKEN = 'shutdown-test-admin-token'

/** A local HTTP server that answers every request after `delayMs` (never, when undefined). */
async function slowServer(delayMs: number | undefined, answer: string) {
  const bodies: string[] = []
  let received = 0
  const server: Server = createServer((req, res) => {
    received++
    let body = ''
    req.on('data', (chunk) => {
      body += chunk
    })
    req.on('end', () => {
      if (req.url === '/postback') bodies.push(body)
      if (delayMs === undefined) return
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(answer)
      }, delayMs)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    /** Requests that have arrived, answered or not. */
    received: () => received,
    close: () => {
      server.closeAllConnections()
      server.close()
    },
  }
}

function startServer(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk) => {
    output += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output += chunk
  })
  return { child, output: () => output }
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

type OutboxRow = {
  id: number
  status: string
  claim: string | null
  attempts: number
  next_attempt_at: number
}

/** Pending postbacks written straight into the outbox, as the ledger would have left them. */
function insertBacklog(file: string, url: string, count: number): void {
  const db = new SQLite(file)
  try {
    const insert = db.prepare(
      `insert into postback_outbox (ledger_id, unit_id, url, headers, body, status, attempts, next_attempt_at,
       claim, last_status, last_error, created_at, updated_at)
       values (?, 1001, ?, '{}', ?, 'pending', 0, 0, null, null, null, 0, 0)`,
    )
    db.transaction(() => {
      for (let i = 1; i <= count; i++) insert.run(1_000_000 + i, `${url}/postback`, `transaction_id=${i}`)
    })()
  } finally {
    db.close()
  }
}

function readOutbox(file: string): OutboxRow[] {
  const db = new SQLite(file, { readonly: true })
  try {
    return db
      .prepare('select id, status, claim, attempts, next_attempt_at from postback_outbox order by id')
      .all() as OutboxRow[]
  } finally {
    db.close()
  }
}

describe('SIGTERM with postbacks and requests in flight', () => {
  const dir = mkdtempSync(join(tmpdir(), 'allot-shutdown-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  /**
   * Boots a server whose unit 1001 asks a slow ad network (so allocations stay in flight ~1 s), fills the
   * outbox, waits for the first postbacks to be on the wire, sends SIGTERM with allocations in flight.
   */
  async function scenario(options: { publisherDelayMs: number | undefined; env: Record<string, string> }) {
    const publisher = await slowServer(options.publisherDelayMs, 'ok')
    const adNetwork = await slowServer(1_000, '{"ads":[]}')
    const port = await freePort()
    const opsPort = await freePort()
    const file = join(dir, `${port}.sqlite`)
    const base = `http://127.0.0.1:${port}`
    const server = startServer({
      PORT: String(port),
      HOST: '127.0.0.1',
      OPS_PORT: String(opsPort),
      DATABASE_URL: `sqlite:${file}`,
      ADMIN_TOKEN,
      PAYLOAD_SECRET: 'shutdown-test-payload-secret-0123456789',
      SEED_DEMO_DATA: 'true',
      UPSTREAM_DEADLINE_MS: '3000',
      POSTBACK_POLL_MS: '100',
      ...options.env,
    })
    const agent = new Agent({ keepAliveTimeout: 30_000 })
    try {
      await waitUntilReady(`${base}/readyz`, server.child)
      const patched = await fetch(`${base}/admin/units/1001`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          ad_sources: [{ name: 'slow', url: `${adNetwork.url}/ads`, timeout_ms: 3000 }],
        }),
      })
      assert.equal(patched.status, 200, await patched.text())
      insertBacklog(file, publisher.url, 100)
      for (let i = 0; i < 100 && publisher.bodies.length === 0; i++)
        await new Promise((r) => setTimeout(r, 50))
      assert.ok(publisher.bodies.length > 0, 'the worker started delivering')

      // Allocations on keep-alive connections, each waiting ~1 s for the slow ad network.
      const inFlight = Array.from({ length: 10 }, (_, i) =>
        undiciFetch(`${base}/api/allocation/`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `unit_id=1001&device_id=${100 + i}&ifa=i${i}&unit_device_token=u${i}&sdk_version=3000&timezone=UTC&country=KR`,
          dispatcher: agent,
        }).then(
          async (res) => ({
            status: res.status,
            body: await res.text(),
            connection: res.headers.get('connection'),
          }),
          (err: Error) => ({
            status: 0,
            body: String((err.cause as Error | undefined)?.message ?? err),
            connection: null,
          }),
        ),
      )
      // SIGTERM only once every allocation is in flight: each has reached the slow ad network.
      for (let i = 0; i < 200 && adNetwork.received() < inFlight.length; i++)
        await new Promise((r) => setTimeout(r, 25))
      assert.equal(adNetwork.received(), inFlight.length, 'every allocation is waiting on the ad network')
      const killedAt = performance.now()
      server.child.kill('SIGTERM')
      // Requests sent during the drain: served, or refused at connect; never a 503.
      const late: Promise<{ status: number; body: string }>[] = []
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 100))
        late.push(
          undiciFetch(`${base}/healthz`, { dispatcher: agent }).then(
            async (res) => ({ status: res.status, body: await res.text() }),
            (err: Error) => ({ status: 0, body: String((err.cause as Error | undefined)?.message ?? err) }),
          ),
        )
      }
      const readiness = await fetch(`http://127.0.0.1:${opsPort}/readyz`).then(
        async (res) => ({ status: res.status, body: await res.text() }),
        (err: Error) => ({ status: 0, body: String(err) }),
      )
      const answers = await Promise.all(inFlight)
      const lateAnswers = await Promise.all(late)
      const [code] = (await once(server.child, 'exit')) as [number | null]
      const exitMs = performance.now() - killedAt
      return {
        answers,
        lateAnswers,
        readiness,
        code,
        exitMs,
        rows: readOutbox(file),
        posted: publisher.bodies,
        output: server.output(),
      }
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL')
      await agent.close()
      publisher.close()
      adNetwork.close()
    }
  }

  function assertNothingLostOrDoubled(result: Awaited<ReturnType<typeof scenario>>) {
    const { answers, rows, posted } = result
    assert.equal(result.readiness.status, 503, 'while draining, /readyz on the ops listener says not ready')
    assert.match(result.readiness.body, /shutting down/)
    for (const a of answers) {
      assert.equal(a.status, 200, `an in-flight allocation answered ${a.status}: ${a.body}`)
      // Answered after SIGTERM: the keep-alive connection ends with it, so the client opens a new one elsewhere.
      assert.equal(a.connection, 'close', 'an answer sent while closing says connection: close')
    }
    for (const a of result.lateAnswers)
      assert.ok(
        a.status === 200 || /ECONNREFUSED/.test(a.body),
        `a request during the drain: ${a.status} ${a.body}`,
      )
    const perRow = new Map<string, number>()
    for (const body of posted) perRow.set(body, (perRow.get(body) ?? 0) + 1)
    for (const [body, n] of perRow) assert.equal(n, 1, `${body} was POSTed ${n} times`)
    const stillClaimed = rows.filter((r) => r.status === 'pending' && r.claim !== null)
    assert.deepEqual(stillClaimed, [], 'no row is left under a claim (its lease would send it again)')
    const untouched = rows.filter((r) => r.status === 'pending' && r.attempts === 0)
    assert.ok(untouched.length > 0, 'a backlog is left for the next process')
    for (const r of untouched) assert.ok(r.next_attempt_at <= Date.now(), `row ${r.id} is due now`)
  }

  test('in-flight requests finish, deliveries in flight are recorded, the backlog stays pending and unclaimed', async () => {
    const result = await scenario({
      publisherDelayMs: 1_000,
      env: { POSTBACK_TIMEOUT_MS: '3000', SHUTDOWN_GRACE_MS: '8000' },
    })
    assertNothingLostOrDoubled(result)
    assert.equal(result.code, 0, result.output.slice(-2000))
    assert.ok(result.exitMs < 4_000, `exited ${Math.round(result.exitMs)} ms after SIGTERM`)
    const delivered = result.rows.filter((r) => r.status === 'delivered')
    assert.equal(delivered.length, result.posted.length, 'every postback sent was recorded as delivered')
  })

  test('deliveries that outlast the grace period are aborted and handed back unclaimed, not left leased', async () => {
    const result = await scenario({
      publisherDelayMs: undefined,
      env: { POSTBACK_TIMEOUT_MS: '30000', SHUTDOWN_GRACE_MS: '3000' },
    })
    assertNothingLostOrDoubled(result)
    assert.equal(result.code, 0, result.output.slice(-2000))
    assert.ok(result.exitMs < 3_000, `exited ${Math.round(result.exitMs)} ms after SIGTERM (grace 3 s)`)
    assert.ok(
      result.rows.every((r) => r.status === 'pending' && r.attempts === 0),
      'an aborted delivery is not counted as an attempt',
    )
  })
})
