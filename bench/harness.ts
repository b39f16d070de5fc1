/**
 * What every bench scenario shares: servers pinned to CPU 0 (the load generator runs on CPU 1), waiting
 * for them to come up, their CPU time from /proc, and the allocation request bodies.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Redis } from 'ioredis'

const CLK_TCK = 100

export const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

/**
 * What `npm start` runs: its environment assignments (glibc's malloc settings) and what follows `node` (its
 * V8 flags, then dist/server.js). The bench starts Allot as users and the image do.
 */
const START = (() => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }
  const words = pkg.scripts.start.split(' ')
  const env: Record<string, string> = {}
  while (/^[A-Z_]+=/.test(words[0] ?? '')) {
    const [name, value] = (words.shift() as string).split('=') as [string, string]
    env[name] = value
  }
  const [node, ...args] = words
  if (node !== 'node' || args.at(-1) !== 'dist/server.js')
    throw new Error(`unexpected start script: ${pkg.scripts.start}`)
  return { env, args }
})()
export const SERVER_ARGS: readonly string[] = START.args
/** `npm start`'s environment assignments, except those the shell sets (to compare other values). */
export const SERVER_ENV: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(START.env).filter(([name]) => process.env[name] === undefined),
)

/**
 * Starts `node <args>` pinned to `cpus` (CPU 0, the server's, by default; when taskset exists), its stdout
 * ignored.
 */
export function start(args: string[], env: Record<string, string>, cpus = '0'): ChildProcess {
  const cmd = [process.execPath, ...args]
  const [file, ...rest] = hasTaskset ? ['taskset', '-c', cpus, ...cmd] : cmd
  return spawn(file as string, rest, {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
}

/** Resolves once `url` answers below 500; throws after `seconds`. */
export async function waitFor(url: string, seconds = 120): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    try {
      if ((await fetch(url)).status < 500) return
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} did not come up`)
}

/** utime + stime of a process (through taskset's exec: the same pid) in seconds. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}

/** Realistic, varied devices: gender, age, OS level and region differ per device; one unit, one country. */
export function allocationBody(devices: number, unitId = 1001): () => string {
  const region = encodeURIComponent('서울특별시 관악구')
  return () => {
    const device = 1 + Math.floor(Math.random() * devices)
    const sex = device % 2 ? 'M' : 'F'
    return `unit_id=${unitId}&device_id=${device}&ifa=ifa-${device}&unit_device_token=user-${device}&timezone=Asia%2FSeoul&sex=${sex}&year_of_birth=${1960 + (device % 45)}&language=ko&country=KR&device_os=${24 + (device % 10)}&carrier=SKT&region=${region}&sdk_version=${30000 + (device % 5)}`
  }
}

/** A new device on every request (none cached, none in the stores): the cold path, as a fleet sees it. */
export function coldBody(): () => string {
  let next = 1_000_000 + Math.floor(Math.random() * 1_000_000_000)
  const warm = allocationBody(1)
  return () => warm().replace(/device_id=\d+/, `device_id=${next++}`)
}

/** Deletes every Redis key under `prefix` (a scenario's REDIS_KEY_PREFIX: some of its keys never expire). */
export async function dropRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 }))
      if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]))
  } finally {
    redis.disconnect()
  }
}
