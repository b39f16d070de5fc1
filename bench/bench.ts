/**
 * `npm run bench`: drives Allot's allocation endpoint and a plain Fastify route with autocannon, in the
 * same run, at the same concurrency, and prints throughput, latency, CPU per request, RSS and the ratio
 * to the plain route. Scenarios: the embedded default (SQLite, demo catalog), production mode (MariaDB +
 * Redis + a DynamoDB-compatible server, demo catalog), and synthetic catalogs of 1,000 / 10,000 / 100,000
 * active campaigns. Each target is measured at full load, then at half of that rate for its tail latency.
 * Servers are pinned to CPU 0 and the load generator to CPU 1 (taskset) so the generator is not the limit.
 * The `reach` scenario runs in process: reach estimates over 1,000,000 synthetic devices (bench/reach-bench.ts).
 *
 *   npm run bench                       # everything (about 5 minutes on 2 cores)
 *   npm run bench -- --only embedded,production --duration 5
 *   npm run bench -- --only reach --reach-devices 1000000
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { createConnection } from 'mysql2/promise'
import { freePort } from '../test/helpers/net.js'
import { reachBench } from './reach-bench.js'
import { seedSyntheticCatalog } from './synthetic-catalog.js'

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    devices: { type: 'string', default: '10000' },
    only: { type: 'string', default: 'reach,embedded,production,1000,10000,100000' },
    'reach-devices': { type: 'string', default: '1000000' },
    'reach-sample': { type: 'string', default: '262144' },
    mysql: { type: 'string', default: process.env.MYSQL_TEST_URL ?? 'mysql://root@127.0.0.1:3306' },
    redis: { type: 'string', default: process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379' },
  },
})
const duration = Number(args.duration)
const connections = Number(args.connections)
const deviceCount = Number(args.devices)
const only = new Set(args.only.split(','))
const CLK_TCK = 100
const ADMIN_TOKEN = 'bench-admin-token-0123456789'
const PAYLOAD_SECRET = 'bench-payload-secret-0123456789-abcdefgh'

type Result = {
  name: string
  rps: number
  p50: number
  p99: number
  halfRate: number
  halfConnections: number
  halfP50: number
  halfP99: number
  cpuPer1k: number
  rssMb: number
  rssBeforeDevicesMb?: number
  cachedDevices?: number
  errors: number
  non2xx: number
}

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

function start(args: string[], env: Record<string, string>): ChildProcess {
  const cmd = [process.execPath, ...args]
  const [file, ...rest] = hasTaskset ? ['taskset', '-c', '0', ...cmd] : cmd
  return spawn(file as string, rest, {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
}

async function waitFor(url: string, seconds = 120): Promise<void> {
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
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)
  return Number(line?.[1] ?? 0) / 1024
}

/** Realistic, varied devices: gender, age, OS level and region differ per device; one unit, one country. */
function allocationBody(devices: number, unitId = 1001): () => string {
  const region = encodeURIComponent('서울특별시 관악구')
  return () => {
    const device = 1 + Math.floor(Math.random() * devices)
    const sex = device % 2 ? 'M' : 'F'
    return `unit_id=${unitId}&device_id=${device}&ifa=ifa-${device}&unit_device_token=user-${device}&timezone=Asia%2FSeoul&sex=${sex}&year_of_birth=${1960 + (device % 45)}&language=ko&country=KR&device_os=${24 + (device % 10)}&carrier=SKT&region=${region}&sdk_version=${30000 + (device % 5)}`
  }
}

/** Devices in the server's in-process cache, from its /metrics. */
async function cachedDevices(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text()
  return Number(text.match(/^allot_device_cache_entries (\d+)/m)?.[1] ?? 0)
}

/**
 * Touches every device once so the measured run sees warm caches, as a long-running process does, and
 * waits until their loads finished (an allocation does not wait past its deadline for a slow store).
 */
async function warmDevices(url: string, devices: number): Promise<void> {
  const base = new URL(url).origin
  await touchDevices(url, devices)
  for (let i = 0; i < 6000 && (await cachedDevices(base)) < devices; i++)
    await new Promise((r) => setTimeout(r, 100))
  const cached = await cachedDevices(base)
  if (cached < devices) throw new Error(`only ${cached} of ${devices} devices were cached after warming`)
}

async function touchDevices(url: string, devices: number): Promise<void> {
  let next = 0
  await autocannon({
    url,
    connections,
    amount: devices,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    requests: [
      {
        setupRequest: (req) => ({
          ...req,
          body: `unit_id=1001&device_id=${(next++ % devices) + 1}&ifa=i&unit_device_token=u&sdk_version=3000&timezone=UTC&country=KR`,
        }),
      },
    ],
  })
}

async function run(url: string, body: () => string, seconds: number, concurrency = connections) {
  return autocannon({
    url,
    connections: concurrency,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }],
  })
}

/**
 * Latency at half of the maximum throughput. autocannon's rate limit sends each second's quota in a
 * burst (which measures the burst, not the service), so this stays closed-loop and lowers the number of
 * connections until throughput falls to about half of the maximum.
 */
async function atHalfLoad(url: string, body: () => string, maxRps: number) {
  let chosen = 1
  for (const c of [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]) {
    chosen = c
    const probe = await run(url, body, 2, c)
    if (probe.requests.average >= maxRps / 2) break
  }
  return { connections: chosen, result: await run(url, body, duration, chosen) }
}

async function drive(name: string, url: string, pid: number, body: () => string): Promise<Result> {
  await run(url, body, 2) // JIT warm-up
  const cpuBefore = cpuSeconds(pid)
  const full = await run(url, body, duration)
  const cpu = cpuSeconds(pid) - cpuBefore
  const { connections: halfConnections, result: half } = await atHalfLoad(url, body, full.requests.average)
  return {
    name,
    rps: full.requests.average,
    p50: full.latency.p50,
    p99: full.latency.p99,
    halfRate: half.requests.average,
    halfConnections,
    halfP50: half.latency.p50,
    halfP99: half.latency.p99,
    cpuPer1k: (cpu / Math.max(1, full.requests.total)) * 1000,
    rssMb: rssMb(pid),
    errors: full.errors + full.timeouts + half.errors + half.timeouts,
    non2xx: full.non2xx + half.non2xx,
  }
}

type Cleanup = () => Promise<void> | void

async function main(): Promise<void> {
  if (only.has('reach')) {
    await reachBench({
      devices: Number(args['reach-devices']),
      sampleSize: Number(args['reach-sample']),
      runs: 20,
    })
    only.delete('reach')
    if (only.size === 0) return
  }
  if (hasTaskset) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' })
  const dir = mkdtempSync(join(tmpdir(), 'allot-bench-'))
  const cleanups: Cleanup[] = [() => rmSync(dir, { recursive: true, force: true })]
  const stop = (child: ChildProcess) =>
    cleanups.push(async () => {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      await once(child, 'exit')
    })
  const results: Result[] = []
  try {
    const plainPort = await freePort()
    const plain = start(['--import', 'tsx', 'bench/plain-server.ts'], { PORT: String(plainPort) })
    stop(plain)
    await waitFor(`http://127.0.0.1:${plainPort}/plain`)
    results.push(
      await drive(
        'plain Fastify route',
        `http://127.0.0.1:${plainPort}/plain`,
        plain.pid as number,
        allocationBody(deviceCount),
      ),
    )

    /** Starts Allot with `env`, warms `devices` devices, measures, stops it. */
    const measure = async (name: string, env: Record<string, string>, devices: number) => {
      const port = await freePort()
      const allot = start(['--import', 'tsx', 'src/server.ts'], {
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        WORKERS: '1',
        // Warming 100,000 devices takes minutes; keep them for the whole run (the default is 5 minutes).
        DEVICE_CACHE_TTL_MS: '3600000',
        ADMIN_TOKEN,
        PAYLOAD_SECRET,
        ...env,
      })
      try {
        await waitFor(`http://127.0.0.1:${port}/readyz`)
        const url = `http://127.0.0.1:${port}/api/allocation/`
        await run(url, allocationBody(1), 1) // load code paths before the baseline RSS
        const rssBefore = rssMb(allot.pid as number)
        await warmDevices(url, devices)
        results.push({
          ...(await drive(name, url, allot.pid as number, allocationBody(devices))),
          rssBeforeDevicesMb: rssBefore,
          cachedDevices: await cachedDevices(`http://127.0.0.1:${port}`),
        })
        process.stderr.write(`measured: ${name}\n`)
      } finally {
        allot.kill('SIGTERM')
        await once(allot, 'exit')
      }
    }

    if (only.has('embedded')) {
      await measure(
        'allocation, embedded (SQLite, demo catalog)',
        { DATABASE_URL: `sqlite:${join(dir, 'demo.sqlite')}` },
        deviceCount,
      )
    }

    if (only.has('production')) {
      const db = `allot_bench_${randomBytes(4).toString('hex')}`
      const conn = await createConnection(args.mysql)
      await conn.query(`create database \`${db}\` character set utf8mb4 collate utf8mb4_unicode_ci`)
      await conn.end()
      cleanups.push(async () => {
        const c = await createConnection(args.mysql)
        await c.query(`drop database if exists \`${db}\``)
        await c.end()
      })
      const dynamoPort = await freePort()
      const dynamo = start(['node_modules/dynalite/cli.js', '--port', String(dynamoPort)], {})
      stop(dynamo)
      const devices = Math.min(deviceCount, 2_000)
      await measure(
        `allocation, production (MariaDB + Redis + DynamoDB-compatible, demo catalog, ${devices} devices)`,
        {
          DATABASE_URL: `${args.mysql.replace(/\/$/, '')}/${db}`,
          MIGRATE_ON_START: 'true',
          SEED_DEMO_DATA: 'true',
          REDIS_URL: args.redis,
          REDIS_KEY_PREFIX: `${db}:`,
          PROFILE_STORE: 'dynamodb',
          DYNAMODB_TABLE: 'allot_bench_devices',
          DYNAMODB_ENDPOINT: `http://127.0.0.1:${dynamoPort}`,
          AWS_ACCESS_KEY_ID: 'bench',
          AWS_SECRET_ACCESS_KEY: 'bench',
        },
        devices,
      )
    }

    for (const total of [1_000, 10_000, 100_000]) {
      if (!only.has(String(total))) continue
      const file = join(dir, `synthetic-${total}.sqlite`)
      const seeded = Date.now()
      await seedSyntheticCatalog(`sqlite:${file}`, total)
      process.stderr.write(`seeded ${total} campaigns in ${Date.now() - seeded} ms\n`)
      // The largest catalog also carries 100,000 cached devices: the memory target's case.
      const devices = total === 100_000 ? Math.max(deviceCount, 100_000) : deviceCount
      await measure(
        `allocation, ${total.toLocaleString('en')} campaigns (embedded, ${devices.toLocaleString('en')} devices)`,
        { DATABASE_URL: `sqlite:${file}`, SEED_DEMO_DATA: 'false' },
        devices,
      )
    }
    report(results)
    memoryReport(results)
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup()
  }
}

function report(results: Result[]): void {
  const base = results[0] as Result
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  console.log(
    `\n${connections} connections, ${duration} s per measurement, node ${process.version}, ${cpus().length} × ${cpu}, ` +
      `${hasTaskset ? 'server on CPU 0, load generator on CPU 1' : 'no taskset: unpinned'}\n`,
  )
  console.log(
    '| target | req/s | ÷ plain | p50 ms | p99 ms | about half load: conns | req/s | p50 ms | p99 ms | CPU ms / req | RSS MB | errors | non-2xx |',
  )
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.rps.toFixed(0)} | ${(r.rps / base.rps).toFixed(2)} | ${r.p50} | ${r.p99} | ${r.halfConnections} | ${r.halfRate.toFixed(0)} | ${r.halfP50} | ${r.halfP99} | ${r.cpuPer1k.toFixed(3)} | ${r.rssMb.toFixed(0)} | ${r.errors} | ${r.non2xx} |`,
    )
  }
}

/** Memory: RSS once the catalog is loaded, and after the devices were cached and the load ran. */
function memoryReport(results: Result[]): void {
  console.log('\n| target | RSS with catalog, before devices MB | devices cached | RSS at the end MB |')
  console.log('| --- | ---: | ---: | ---: |')
  for (const r of results) {
    if (r.rssBeforeDevicesMb === undefined) continue
    console.log(
      `| ${r.name} | ${r.rssBeforeDevicesMb.toFixed(0)} | ${r.cachedDevices ?? 0} | ${r.rssMb.toFixed(0)} |`,
    )
  }
}

await main()
