import cluster from 'node:cluster'
import closeWithGrace from 'close-with-grace'
import { createApp } from './app.js'
import { type Config, ConfigError, loadConfig } from './config/config.js'

/** The only file that listens: boot, fork workers, shut down gracefully on signals. */
async function main(): Promise<void> {
  const config = loadConfig()
  if (config.workers > 1 && cluster.isPrimary) await runPrimary(config)
  else await runServer(config)
}

/**
 * One serving process: build the app, listen on the public port and on the internal ops port, close
 * gracefully on SIGTERM/SIGINT: stop accepting connections, let requests in flight finish, stop claiming
 * postbacks and finish or hand back the ones in flight, close the stores, exit; past SHUTDOWN_GRACE_MS the
 * process exits anyway (code 1).
 */
async function runServer(config: Config): Promise<void> {
  const app = await createApp({ config })
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
