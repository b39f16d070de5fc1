import cluster from 'node:cluster'
import type { Server } from 'node:http'
import { Server as NetServer } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import closeWithGrace from 'close-with-grace'
import { createApp } from './app.js'
import { type Config, ConfigError, loadConfig } from './config/config.js'

/** The only file that listens: boot, fork workers, shut down gracefully on signals. */
async function main(): Promise<void> {
  const config = loadConfig()
  boundHeapGrowth(config.heapGrowthPercent)
  if (config.workers > 1 && cluster.isPrimary) await runPrimary(config)
  else await runServer(config)
}

/**
 * After each full collection V8 lets the heap grow to a multiple of what it kept before collecting again: on
 * a large machine up to 4 ×, and under load it keeps that room filled with garbage, so a process holding a
 * 100,000-campaign catalog sat at 420+ MB of RSS with 150 MB live (360 MB with 50 %, docs/benchmarks.md). V8
 * reads its factor from this flag each time it sets the next limit, so setting it at boot (before the catalog
 * loads) applies to every collection. Much lower costs CPU: at 20 % a small heap under load collects in full
 * about every second; the default, 35 %, measured no more GC time than 50 %.
 *
 * The young generation's size is fixed when V8 starts, so it cannot be set here: `npm start` and the image
 * pass `--max-semi-space-size=8` on the command line (16 MB less RSS under load than V8's 16 MB semi-spaces).
 * Likewise glibc reads `MALLOC_TRIM_THRESHOLD_` only at start; both set it to 128 KiB (docs/deploy.md).
 */
function boundHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`)
}

/**
 * One serving process: build the app, listen on the public port and on the internal ops port, close
 * gracefully on SIGTERM/SIGINT: retire keep-alive connections (below), stop accepting connections, let
 * requests in flight finish, stop claiming postbacks and finish or hand back the ones in flight, close the
 * stores, exit; past SHUTDOWN_GRACE_MS the process exits anyway (code 1).
 */
async function runServer(config: Config): Promise<void> {
  const app = await createApp({ config })
  app.addHook('preClose', () => retireConnections(app.server, Math.min(2000, config.shutdownGraceMs / 4)))
  closeWithGrace({ delay: config.shutdownGraceMs }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an uncaught error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })
  // The internal listener first: once the public port answers, the whole process is up. Exclusive: its
  // metrics and readiness are this process's, so it never shares a port through the cluster primary.
  await app.ops.listen({ port: config.ops.port, host: config.ops.host, exclusive: true })
  await app.listen({ port: config.port, host: config.host })
  if (config.generatedSecrets && cluster.isPrimary) announceSecrets(app.log, config)
}

/**
 * The primary of a multi-process server: migrates and seeds once (so workers never race on it), then
 * forks WORKERS processes that share the port, restarts a worker that dies, and on SIGTERM/SIGINT asks
 * every worker to finish its requests before exiting. Worker i (from 0) has its own ops listener on
 * OPS_PORT + i (a restarted worker takes the place of the one it replaces); OPS_PORT=0 gives each any port.
 */
async function runPrimary(config: Config): Promise<void> {
  const setup = await createApp({ config })
  if (config.generatedSecrets) announceSecrets(setup.log, config)
  const log = setup.log
  await setup.close()

  let stopping = false
  const slots = new Map<number, number>()
  const fork = (slot: number) => {
    const opsPort = config.ops.port === 0 ? 0 : config.ops.port + slot
    const worker = cluster.fork({
      MIGRATE_ON_START: 'false',
      SEED_DEMO_DATA: 'false',
      OPS_PORT: String(opsPort),
    })
    slots.set(worker.id, slot)
  }
  for (let i = 0; i < config.workers; i++) fork(i)
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    log.error({ pid: worker.process.pid, code, signal }, 'worker died; starting another')
    const slot = slots.get(worker.id) ?? 0
    slots.delete(worker.id)
    fork(slot)
  })
  log.info({ workers: config.workers, port: config.port }, 'primary started its workers')

  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down the workers')
    const workers = Object.values(cluster.workers ?? {})
    let left = workers.length
    if (left === 0) process.exit(0)
    const force = setTimeout(() => process.exit(1), config.shutdownGraceMs + 1000)
    force.unref()
    for (const worker of workers) {
      worker?.once('exit', () => {
        left -= 1
        if (left === 0) process.exit(0)
      })
      worker?.process.kill('SIGTERM')
    }
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

/**
 * Closing a keep-alive connection that looks idle races a proxy that has just sent a request on it: nginx
 * reads a reset and must not replay a POST elsewhere (an event would count twice), so the phone would get a
 * 503. So once closing has begun (readiness says so, and every answer carries `connection: close`: see
 * composition/core.ts), the listener stops (a new connection is refused, which nginx safely tries on another
 * instance) and the proxy retires each connection it uses, for up to `ms` or until none is left; only then
 * are the connections still idle (the ones the proxy uses least) closed. The app's close then waits for the
 * requests in flight as before.
 */
async function retireConnections(server: Server, ms: number): Promise<void> {
  if (!server.listening || ms <= 0) return
  const open = () => new Promise<number>((resolve) => server.getConnections((err, n) => resolve(err ? 0 : n)))
  // Only the listening socket: http.Server#close would also close the idle connections at once.
  NetServer.prototype.close.call(server)
  const end = Date.now() + ms
  while (Date.now() < end && (await open()) > 0) await new Promise((r) => setTimeout(r, 20))
  server.closeIdleConnections()
}

function announceSecrets(log: { info(obj: object, msg: string): void }, config: Config): void {
  log.info(
    { admin_token: config.adminToken },
    'embedded mode: generated ADMIN_TOKEN and PAYLOAD_SECRET are kept beside the SQLite file (allot-secrets.json)',
  )
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`allot: ${err.message}`)
  } else {
    console.error('allot: failed to start:', err)
  }
  process.exit(1)
})
