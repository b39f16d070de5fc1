/**
 * The fleet's moving parts, each started with its own stop registered first, so one `close()` takes down
 * whatever did start (also after a failure half-way): a private Redis Cluster (3 masters + 3 replicas), a
 * throw-away MariaDB database, dynalite in a child process, the publisher's postback receiver, three Allot
 * processes (production mode) and the real nginx with the shipped config in front of them.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from '../../test/helpers/net.js'
import { type Nginx, startNginx } from '../../test/helpers/nginx.js'
import { type OwnRedisCluster, startOwnRedisCluster } from '../../test/helpers/redis-cluster.js'
import { sqlBackends } from '../../test/helpers/sql-backends.js'

const run = promisify(execFile)
export const ADMIN_TOKEN = 'fleet-admin-token-0123456789'
const PAYLOAD_SECRET = 'fleet-payload-secret-0123456789-abcdefgh'

/** One Allot process behind nginx: its port stays the same across restarts (nginx's upstream line). */
export type Instance = {
  name: string
  port: number
  pid(): number | undefined
  start(): Promise<void>
  /** SIGTERM, then waits for the exit (graceful shutdown: requests in flight finish, tallies flush). */
  stop(): Promise<void>
}

export type Stack = {
  edge: string
  databaseUrl: string
  cluster: OwnRedisCluster
  instances: Instance[]
  postbacks: Map<string, number>
  postbackUrl: string
  accessLog: string
  errorLog: string
  /** The Allot processes' error lines (level 50 and up), the first `max`. */
  allotErrors(max: number): string[]
  close(): Promise<void>
}

/** Starts everything; on any failure stops what had started and rethrows. */
export async function startStack(instanceCount: number, log: (line: string) => void): Promise<Stack> {
  const stops: (() => Promise<unknown>)[] = []
  const close = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((err) => log(`cleanup: ${err}`))
  }
  try {
    const dir = mkdtempSync(join(tmpdir(), 'allot-fleet-'))
    stops.push(async () => rmSync(dir, { recursive: true, force: true }))
    const cluster = await startOwnRedisCluster()
    stops.push(() => cluster.close())
    log(`Redis Cluster: ${cluster.ports.length} nodes (3 masters + 3 replicas)`)
    const mariadb = (await sqlBackends()).find((b) => b.name === 'mariadb')
    if (!mariadb || mariadb.skip) throw new Error(`MariaDB is needed: ${mariadb?.skip}`)
    stops.push(() => mariadb.cleanup())
    const databaseUrl = await mariadb.createDatabaseUrl()
    const dynamo = await startDynalite()
    stops.push(dynamo.stop)
    const receiver = await startReceiver()
    stops.push(receiver.stop)
    const env = productionEnv(databaseUrl, cluster.url, dynamo.endpoint)
    await run(process.execPath, ['--import', 'tsx', 'src/migrate.ts'], { env: { ...process.env, ...env } })
    log(`MariaDB database ${databaseUrl.split('/').pop()} migrated; dynalite table created`)
    const instances: Instance[] = []
    for (let i = 0; i < instanceCount; i++) {
      const instance = allotInstance(`allot-${i + 1}`, await freePort(), env, dir)
      stops.push(() => instance.stop())
      instances.push(instance)
    }
    await Promise.all(instances.map((i) => i.start()))
    const ports = { edge: await freePort(), allot: instances.map((i) => i.port), legacy: await freePort() }
    const nginx: Nginx = await startNginx(dir, ports, 4096)
    stops.push(() => nginx.stop())
    log(`${instanceCount} Allot instances behind nginx on 127.0.0.1:${ports.edge}`)
    return {
      edge: `http://127.0.0.1:${ports.edge}`,
      databaseUrl,
      cluster,
      instances,
      postbacks: receiver.received,
      postbackUrl: receiver.url,
      accessLog: join(dir, 'access.log'),
      errorLog: join(dir, 'error.log'),
      allotErrors: (max) =>
        readdirSync(dir)
          .filter((f) => /^allot-\d+\.log$/.test(f))
          .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
          .filter((l) => /"level":(50|60)/.test(l))
          .slice(0, max)
          .map((l) => l.slice(0, 400)),
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}

/** What every Allot process of the fleet runs with: production mode on the three stores. */
function productionEnv(database: string, redis: string, dynamo: string) {
  return {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    DATABASE_URL: database,
    REDIS_URL: redis,
    REDIS_CLUSTER: 'true',
    REDIS_KEY_PREFIX: 'fleet:',
    PROFILE_STORE: 'dynamodb',
    DYNAMODB_TABLE: 'allot_fleet_devices',
    DYNAMODB_ENDPOINT: dynamo,
    // Every store shares two cores with the fleet and the phones here: a query or a dynalite call may wait far
    // longer than on their own machines, and the defaults (1 s, 500 ms) would fail requests that are only slow.
    // Both stay below nginx's proxy_read_timeout (5 s).
    DYNAMODB_TIMEOUT_MS: '4000',
    DB_TIMEOUT_MS: '4000',
    ADMIN_TOKEN,
    PAYLOAD_SECRET,
    WORKERS: '1',
    TRUST_PROXY: 'true',
    // Each instance logs to <temp dir>/allot-N.log; the failed checks print its errors.
    LOG_LEVEL: 'warn',
    MIGRATE_ON_START: 'false',
    SEED_DEMO_DATA: 'false',
    REPORT_FLUSH_MS: '1000',
    POSTBACK_POLL_MS: '200',
    OPS_PORT: '0',
  }
}

/** An Allot process (src/server.ts through tsx) on a fixed port, started and stopped again at will. */
function allotInstance(name: string, port: number, env: Record<string, string>, dir: string): Instance {
  let child: ChildProcess | undefined
  const origin = `http://127.0.0.1:${port}`
  const output = openSync(join(dir, `${name}.log`), 'a')
  const instance: Instance = {
    name,
    port,
    pid: () => child?.pid,
    async start() {
      const started = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
        env: { PATH: process.env.PATH, ...env, PORT: String(port), HOST: '127.0.0.1' },
        stdio: ['ignore', output, output],
      })
      child = started
      for (let i = 0; ; i++) {
        if (started.exitCode !== null)
          throw new Error(`${name} exited with ${started.exitCode}:\n${logTail(join(dir, `${name}.log`))}`)
        if (i > 600) throw new Error(`${name} was not ready in 60 s`)
        const ready = await fetch(`${origin}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        )
        if (ready) return
        await new Promise((r) => setTimeout(r, 100))
      }
    },
    async stop() {
      const running = child
      child = undefined
      if (!running || running.exitCode !== null || running.signalCode !== null) return
      running.kill('SIGTERM')
      await once(running, 'exit')
    },
  }
  return instance
}

/** dynalite (test/helpers/dynamo.ts) in its own process, so its CPU is not the load generator's. */
async function startDynalite(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const code = `const { startDynamo } = await import('./test/helpers/dynamo.ts')
const dynamo = await startDynamo('allot_fleet_devices')
console.log(dynamo.endpoint)
process.on('SIGTERM', () => dynamo.close().then(() => process.exit(0)))`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
  const [line] = (await once(child.stdout, 'data')) as [Buffer]
  const endpoint = line.toString().trim()
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(endpoint)) {
    await stop()
    throw new Error(`dynalite: ${endpoint}`)
  }
  return { endpoint, stop }
}

/** The publisher's postback endpoint: counts each transaction_id it is sent, answers 200. */
async function startReceiver() {
  const received = new Map<string, number>()
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => {
      body += c
    })
    req.on('end', () => {
      const id = new URLSearchParams(body).get('transaction_id') ?? `(none) ${body.slice(0, 80)}`
      received.set(id, (received.get(id) ?? 0) + 1)
      res.writeHead(200).end('ok')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/postback`
  const stop = async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  }
  return { received, url, stop }
}

/** The last lines of an instance's log, for a failure that names it. */
function logTail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch (err) {
    return `(no log: ${String(err)})`
  }
}
