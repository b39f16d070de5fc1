import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import { freePort } from './net.js'
import { requireComponent } from './requirement.js'

/** The redis-server binary the fault suites start; override with REDIS_SERVER_BIN. */
export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server'

export type OwnRedis = {
  url: string
  port: number
  /** Kills the server at once (SIGKILL): connections drop, nothing answers on the port. */
  kill(): Promise<void>
  /** Starts it again on the same port (empty: no persistence). */
  start(): Promise<void>
  close(): Promise<void>
}

/**
 * Whether the fault suites can start their own Redis: with CI=true a missing binary throws (a failure,
 * never a skip); outside CI the suite is skipped with a visible reason.
 */
export function ownRedisSkip(): string | undefined {
  const probe = spawnSync(REDIS_SERVER_BIN, ['--version'], { encoding: 'utf8' })
  if (probe.status === 0) return undefined
  const why = probe.error?.message ?? probe.stderr
  return requireComponent(`${REDIS_SERVER_BIN} cannot run (${why})`, 'Redis fault suite')
}

/** A private redis-server on a random port, which a test may kill and start again. */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  async function start() {
    child = spawn(
      REDIS_SERVER_BIN,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    )
    for (let i = 0; i < 100; i++) {
      if (await answers(port)) return
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`redis-server did not answer on ${port}`)
  }
  async function kill() {
    const running = child
    child = undefined
    if (!running || running.exitCode !== null) return
    running.kill('SIGKILL')
    await once(running, 'exit')
  }
  await start()
  return { url: `redis://127.0.0.1:${port}`, port, kill, start, close: kill }
}

async function answers(port: number): Promise<boolean> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 })
  redis.on('error', () => {})
  try {
    await redis.connect()
    return (await redis.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    redis.disconnect()
  }
}
