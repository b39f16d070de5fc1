/**
 * `npm run bench`: drives Allot's allocation endpoint with autocannon beside two baselines measured in the
 * same run at the same concurrency: a plain Fastify route (a small JSON answer) and the *signed floor* (a
 * plain Fastify route sending a captured allocation answer as bytes plus one HMAC per item: what merely
 * sending the answer costs). It prints throughput, latency, CPU per request, RSS and the ratio of each
 * scenario to the signed floor. Scenarios: the embedded default warm (every device cached) and cold (a new
 * device on every request, none pre-warmed), production mode cold (MariaDB + Redis + a DynamoDB-compatible
 * server, through Allot's lean client, and with `production-sdk` through the AWS SDK; compared in CPU per
 * request, since the stores share the machine), and synthetic catalogs of
 * 1,000 / 10,000 / 100,000 active campaigns. Each target is measured at full load, then at about half of
 * that rate for its tail latency. Servers are pinned to CPU 0 and the load generator to CPU 1 (taskset).
 * The AES floor's server stays up through the run, and each Allot scenario measures it again around its own
 * full-load run (half of `--duration` just before, half just after): the machine's speed drifts by a fifth
 * and more over a run, so the targets set against the floor take the floor measured around the scenario,
 * and print the ratio to the floor measured at the start beside it.
 * For the half-load run of each Allot scenario a second table says what held its requests up (issue #22,
 * item 3): the event loop's delay (prom-client's histogram, read from the server's /metrics before and
 * after), the GC pauses in that run, and the share of it the server's main thread spent ready to run but
 * waiting for its CPU (/proc/<pid>/schedstat: V8's helper threads and the other processes on that core).
 *
 * The `reach` scenario runs first, in process: reach estimates over 1,000,000 synthetic devices
 * (bench/reach-bench.ts). The `events` scenarios run last (bench/event-bench.ts): beacons, unlocks and
 * landings in production-sql mode, on one hot campaign and spread over 100, on one and on two instances,
 * as ratios to a cold allocation measured the same way.
 *
 * Bytes on the wire (issue #22, item 6): every scenario records the bytes per answer autocannon read
 * (headers included); the `gzip` scenario runs the embedded warm server with RESPONSE_COMPRESSION=gzip and
 * drives it in turns with clients without and with `Accept-Encoding: gzip` (three rounds each, same
 * process, so a busy machine shifts both alike); and the captured answer is gzipped in process
 * (bench/compression-bench.ts) for its bytes and CPU µs at levels 1 and 6, as a ratio to the allocation's
 * own CPU in the same run.
 *
 *   npm run bench                       # everything (about 20 minutes on 2 cores)
 *   npm run bench -- --only reach --reach-devices 1000000
 *   npm run bench -- --only embedded,cold,production --duration 5
 *   npm run bench -- --only cold --profile   # also a CPU profile of each Allot scenario, by self time
 *   npm run bench -- --only events --duration 10   # the event scenarios alone (issue #20)
 *   npm run bench -- --only gzip --duration 5   # bytes on the wire, plain and gzip (issue #22)
 *
 * With --profile the Allot servers run under `node --cpu-prof` (which costs throughput: read the figures of
 * such a run for the shares, not for the targets) and each scenario's top functions by self time follow
 * the tables; the .cpuprofile files stay in the printed directory for Chrome DevTools. The event scenarios'
 * servers (one profile per process, every scenario it served) write theirs under `events/` there.
 *
 * The stores run where the machine puts them: MariaDB and Redis are the machine's services, and dynalite is
 * started on either core, never pinned to the server's CPU 0 (where it took CPU from the server it serves).
 *
 * The bench process, which is also the load generator, runs with V8's memory reducer off (`npm run bench`:
 * `node --no-memory-reducer`). It holds the event scenarios' devices and items through a run, and the reducer's
 * compacting collections of that heap stopped it for one to three seconds now and then: no request was sent
 * and no answer read, so a scenario's p99 read close to a second and its req/s fell with it. The Allot
 * servers run as `npm start` runs them. Each event scenario prints the load generator's longest pause.
 */
import { type ChildProcess, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { createConnection } from 'mysql2/promise'
import { freePort } from '../test/helpers/net.js'
import { compressionReport, gzipCost, type WireRow } from './compression-bench.js'
import { type EventRow, eventBench, eventReport } from './event-bench.js'
import {
  allocationBody,
  coldBody,
  cpuSeconds,
  dropRedisKeys,
  hasTaskset,
  SERVER_ARGS,
  SERVER_ENV,
  start,
  waitFor,
} from './harness.js'
import { selfTimes } from './profile-summary.js'
import { reachBench } from './reach-bench.js'
import { seedSyntheticCatalog } from './synthetic-catalog.js'

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    devices: { type: 'string', default: '10000' },
    only: {
      type: 'string',
      default: 'reach,embedded,gzip,cold,production,production-sql,1000,10000,100000,events',
    },
    'reach-devices': { type: 'string', default: '1000000' },
    'reach-sample': { type: 'string', default: '262144' },
    // Hot devices allocated per instance count, one grant each per action: more than a hot scenario sends.
    'event-devices': { type: 'string', default: '50000' },
    mysql: { type: 'string', default: process.env.MYSQL_TEST_URL ?? 'mysql://root@127.0.0.1:3306' },
    redis: { type: 'string', default: process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379' },
    profile: { type: 'boolean', default: false },
  },
})
const duration = Number(args.duration)
const connections = Number(args.connections)
const deviceCount = Number(args.devices)
const only = new Set(args.only.split(','))
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
  /** Bytes autocannon read per answer at full load, headers included. */
  bytesPerAnswer: number
  rssMb: number
  rssBeforeDevicesMb?: number
  cachedDevices?: number
  errors: number
  non2xx: number
  cold?: boolean
  /** Allot's event loop and GC during the half-load run (Allot scenarios only). */
  halfStalls?: Stalls
  /**
   * The share of full-load answers that went without some of their device's data (a device read refused
   * by DEVICE_LOADS_MAX or later than ALLOCATION_DEADLINE_MS; Allot scenarios only). Such an answer skips
   * the device's store reads, so a CPU figure with many of them is not a cold allocation's.
   */
  withoutDeviceData?: number
  /** The scenario's CPU profile (with --profile). */
  profile?: string
  /** The AES floor measured around this scenario's full-load run (Allot scenarios only). */
  floorAround?: FloorReading
}

/** The AES floor's req/s and CPU ms per request in one measurement. */
type FloorReading = { rps: number; cpuPer1k: number }

/** The AES floor's server, kept up through the run so that each Allot scenario can measure it around itself. */
type FloorServer = { url: string; pid: number }

/** Items in a captured allocation answer. */
function answerItems(file: string): number {
  return (JSON.parse(readFileSync(file, 'utf8')) as { campaigns: unknown[] }).campaigns.length
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)
  return Number(line?.[1] ?? 0) / 1024
}

/** The server's Prometheus metrics, as text (on the ops listener). */
async function scrape(ops: string): Promise<string> {
  return (await fetch(`${ops}/metrics`)).text()
}

/** Device reads left out of allocations so far (refused or past the deadline), from the server's /metrics. */
async function deviceDataMisses(ops: string): Promise<number> {
  const text = await scrape(ops)
  return Number(text.match(/^allot_allocation_deadline_misses_total (\S+)/m)?.[1] ?? 0)
}

/** Devices in the server's in-process cache, from its /metrics. */
async function cachedDevices(ops: string): Promise<number> {
  const text = await scrape(ops)
  return Number(text.match(/^allot_device_cache_entries (\d+)/m)?.[1] ?? 0)
}

/**
 * Touches every device once so the measured run sees warm caches, as a long-running process does, and
 * waits until their loads finished (an allocation does not wait past its deadline for a slow store).
 */
async function warmDevices(url: string, ops: string, devices: number): Promise<void> {
  await touchDevices(url, devices)
  for (let i = 0; i < 6000 && (await cachedDevices(ops)) < devices; i++)
    await new Promise((r) => setTimeout(r, 100))
  const cached = await cachedDevices(ops)
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

/** Headers of a phone whose HTTP stack accepts gzip (Android's and iOS's do). */
const ACCEPTS_GZIP = { 'accept-encoding': 'gzip' }

async function run(
  url: string,
  body: () => string,
  seconds: number,
  concurrency = connections,
  headers: Record<string, string> = {},
) {
  return autocannon({
    url,
    connections: concurrency,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }],
  })
}

/**
 * Latency at half of the maximum throughput. autocannon's rate limit sends each second's quota in a
 * burst (which measures the burst, not the service), so this stays closed-loop and lowers the number of
 * connections until throughput falls to about half of the maximum.
 */
async function atHalfLoad(
  url: string,
  body: () => string,
  maxRps: number,
  server?: { ops: string; pid: number },
) {
  let chosen = 1
  for (const c of [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]) {
    chosen = c
    const probe = await run(url, body, 2, c)
    if (probe.requests.average >= maxRps / 2) break
  }
  const measure = () => run(url, body, duration, chosen)
  const { result, stalls } = server
    ? await stallsDuring(server, measure)
    : { result: await measure(), stalls: undefined }
  return { connections: chosen, result, stalls }
}

/** What the Allot process's own /metrics say about its event loop and GC (prom-client's default metrics). */
type LoopReading = { loopP99Ms: number; loopMaxMs: number; gcCount: number; gcMs: number; gcOver10Ms: number }

/** Reads the loop and GC figures; prom-client resets its loop-delay histogram at every scrape. */
async function loopReading(ops: string): Promise<LoopReading> {
  const text = await scrape(ops)
  const value = (re: RegExp) => [...text.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0)
  const gcCount = value(/^nodejs_gc_duration_seconds_count\{[^}]*\} (\S+)/gm)
  return {
    loopP99Ms: value(/^nodejs_eventloop_lag_p99_seconds (\S+)/gm) * 1000,
    loopMaxMs: value(/^nodejs_eventloop_lag_max_seconds (\S+)/gm) * 1000,
    gcCount,
    gcMs: value(/^nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)/gm) * 1000,
    gcOver10Ms: gcCount - value(/^nodejs_gc_duration_seconds_bucket\{le="0.01"[^}]*\} (\S+)/gm),
  }
}

/** The event loop's delay and the GC pauses of Allot while `work` runs (at half load). */
async function stallsDuring(server: { ops: string; pid: number }, work: () => ReturnType<typeof run>) {
  const before = await loopReading(server.ops)
  const waitedBefore = runQueueSeconds(server.pid)
  const started = performance.now()
  const result = await work()
  const wall = (performance.now() - started) / 1000
  const waited = runQueueSeconds(server.pid) - waitedBefore
  const after = await loopReading(server.ops)
  const per1k = 1000 / Math.max(1, result.requests.total)
  const stalls: Stalls = {
    // The histogram counts each 10 ms timer's whole interval: what is over it is the loop's delay.
    loopP99Ms: Math.max(0, after.loopP99Ms - LOOP_TIMER_MS),
    loopMaxMs: Math.max(0, after.loopMaxMs - LOOP_TIMER_MS),
    cpuWaitShare: waited / wall,
    gcPer1k: (after.gcCount - before.gcCount) * per1k,
    gcMsPer1k: (after.gcMs - before.gcMs) * per1k,
    gcOver10Ms: after.gcOver10Ms - before.gcOver10Ms,
  }
  return { result, stalls }
}

/** Event-loop delay (p99, max) and GC (pauses and their time per 1,000 requests, pauses over 10 ms). */
type Stalls = {
  loopP99Ms: number
  loopMaxMs: number
  /** The share of the run the main thread was ready to run but waited for its CPU (other threads, processes). */
  cpuWaitShare: number
  gcPer1k: number
  gcMsPer1k: number
  gcOver10Ms: number
}

/** prom-client's event-loop timer (its default `eventLoopMonitoringPrecision`). */
const LOOP_TIMER_MS = 10

/** Seconds the main thread of `pid` spent runnable but waiting for a CPU (/proc/<pid>/schedstat). */
function runQueueSeconds(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9
  } catch {
    return Number.NaN
  }
}

async function drive(
  name: string,
  url: string,
  pid: number,
  body: () => string,
  ops?: string,
  floor?: FloorServer,
): Promise<Result> {
  await run(url, body, 2) // JIT warm-up
  const floorBefore = floor ? await floorReading(floor, duration / 2, true) : undefined
  const missesBefore = ops ? await deviceDataMisses(ops) : 0
  const cpuBefore = cpuSeconds(pid)
  const full = await run(url, body, duration)
  const cpu = cpuSeconds(pid) - cpuBefore
  const misses = ops ? (await deviceDataMisses(ops)) - missesBefore : 0
  const floorAfter = floor ? await floorReading(floor, duration / 2, false) : undefined
  const {
    connections: halfConnections,
    result: half,
    stalls,
  } = await atHalfLoad(url, body, full.requests.average, ops ? { ops, pid } : undefined)
  return {
    halfStalls: stalls,
    ...(ops ? { withoutDeviceData: misses / Math.max(1, full.requests.total) } : {}),
    ...(floorBefore && floorAfter ? { floorAround: joined(floorBefore, floorAfter) } : {}),
    name,
    rps: full.requests.average,
    p50: full.latency.p50,
    p99: full.latency.p99,
    halfRate: half.requests.average,
    halfConnections,
    halfP50: half.latency.p50,
    halfP99: half.latency.p99,
    cpuPer1k: (cpu / Math.max(1, full.requests.total)) * 1000,
    bytesPerAnswer: full.throughput.total / Math.max(1, full.requests.total),
    rssMb: rssMb(pid),
    errors: full.errors + full.timeouts + half.errors + half.timeouts,
    non2xx: full.non2xx + half.non2xx,
  }
}

/**
 * The AES floor for `seconds` (after a second of warm-up when `warmUp`: its server sat idle meanwhile), as
 * its requests and CPU seconds, to be joined with the reading on the other side of a scenario.
 */
async function floorReading(floor: FloorServer, seconds: number, warmUp: boolean) {
  const body = allocationBody(deviceCount)
  if (warmUp) await run(floor.url, body, 1)
  const cpuBefore = cpuSeconds(floor.pid)
  const result = await run(floor.url, body, seconds)
  return { requests: result.requests.total, seconds, cpu: cpuSeconds(floor.pid) - cpuBefore }
}

/** The two halves of the floor measured around a scenario, as one reading. */
function joined(...halves: Awaited<ReturnType<typeof floorReading>>[]): FloorReading {
  const requests = halves.reduce((n, h) => n + h.requests, 0)
  const seconds = halves.reduce((n, h) => n + h.seconds, 0)
  const cpu = halves.reduce((n, h) => n + h.cpu, 0)
  return { rps: requests / seconds, cpuPer1k: (cpu / Math.max(1, requests)) * 1000 }
}

type Cleanup = () => Promise<void> | void

/** What the scenarios of one run share: a temporary directory, what to undo at the end, the results. */
type Bench = {
  dir: string
  cleanups: Cleanup[]
  results: Result[]
  /** Where the CPU profiles go (with --profile). */
  profiles: string | undefined
  profileCount: number
  /** The `gzip` scenario's served allocations, plain and gzipped (median of its rounds). */
  wire?: { plain: WireRow; gzip: WireRow }
  /** The AES floor's server (once the baselines ran). */
  floor?: FloorServer
}

/** Stops `child` at the end of the run. */
function stopAtEnd(bench: Bench, child: ChildProcess): void {
  bench.cleanups.push(async () => {
    if (child.exitCode !== null) return
    child.kill('SIGTERM')
    await once(child, 'exit')
  })
}

type AllotUrls = { url: string; ops: string; pid: number; profileDir?: string }

/** Starts Allot with `env`, runs `work` against it, stops it. */
async function withAllot<T>(
  bench: Bench,
  env: Record<string, string>,
  work: (urls: AllotUrls) => Promise<T>,
): Promise<T> {
  const port = await freePort()
  const opsPort = await freePort()
  const profileDir = bench.profiles && join(bench.profiles, String(bench.profileCount++))
  if (profileDir) mkdirSync(profileDir)
  const profileFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []
  // The compiled server, as `npm start` and the image run it.
  const allot = start([...profileFlags, ...SERVER_ARGS], {
    ...SERVER_ENV,
    PORT: String(port),
    HOST: '127.0.0.1',
    OPS_PORT: String(opsPort),
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
    return await work({
      url: `http://127.0.0.1:${port}/api/allocation/`,
      ops: `http://127.0.0.1:${opsPort}`,
      pid: allot.pid as number,
      profileDir,
    })
  } finally {
    allot.kill('SIGTERM')
    await once(allot, 'exit')
  }
}

/**
 * Bytes on the wire: one warm embedded server with RESPONSE_COMPRESSION=gzip, driven in turns by clients
 * that do not and that do accept gzip (full load, three rounds each); the median round of each.
 */
function measureWire(bench: Bench) {
  const env = { DATABASE_URL: `sqlite:${join(bench.dir, 'gzip.sqlite')}`, RESPONSE_COMPRESSION: 'gzip' }
  return withAllot(bench, env, async ({ url, ops, pid }) => {
    await warmDevices(url, ops, deviceCount)
    const body = allocationBody(deviceCount)
    const rounds: Record<'plain' | 'gzip', WireRow[]> = { plain: [], gzip: [] }
    for (const headers of [{}, ACCEPTS_GZIP]) await run(url, body, 2, connections, headers) // JIT warm-up
    for (let round = 0; round < 3; round++) {
      for (const [kind, headers] of [
        ['plain', {}],
        ['gzip', ACCEPTS_GZIP],
      ] as const) {
        const cpuBefore = cpuSeconds(pid)
        const result = await run(url, body, duration, connections, headers)
        const requests = Math.max(1, result.requests.total)
        rounds[kind].push({
          name: kind === 'plain' ? 'no Accept-Encoding: plain JSON' : 'Accept-Encoding: gzip',
          rps: result.requests.average,
          cpuPer1k: ((cpuSeconds(pid) - cpuBefore) / requests) * 1000,
          bytesPerAnswer: result.throughput.total / requests,
        })
      }
    }
    const median = (rows: WireRow[]) => rows.sort((a, b) => a.cpuPer1k - b.cpuPer1k)[1] as WireRow
    bench.wire = { plain: median(rounds.plain), gzip: median(rounds.gzip) }
    process.stderr.write('measured: bytes on the wire\n')
  })
}

/** Warm: every device allocated once and cached before the measured run. */
function measureWarm(bench: Bench, name: string, env: Record<string, string>, devices: number) {
  return withAllot(bench, env, async ({ url, ops, pid, profileDir }) => {
    await run(url, allocationBody(1), 1) // load code paths before the baseline RSS
    const rssBefore = rssMb(pid)
    await warmDevices(url, ops, devices)
    bench.results.push({
      ...(await drive(name, url, pid, allocationBody(devices), ops, bench.floor)),
      rssBeforeDevicesMb: rssBefore,
      cachedDevices: await cachedDevices(ops),
      profile: profileDir,
    })
    process.stderr.write(`measured: ${name}\n`)
  })
}

/** Cold: a device the process (and the stores) never saw on every request. */
function measureCold(bench: Bench, name: string, env: Record<string, string>) {
  return withAllot(bench, env, async ({ url, ops, pid, profileDir }) => {
    bench.results.push({
      ...(await drive(name, url, pid, coldBody(), ops, bench.floor)),
      cold: true,
      profile: profileDir,
    })
    process.stderr.write(`measured: ${name}\n`)
  })
}

/** The baselines: a plain Fastify route, and the signed floor (an answer Allot gave for the demo unit). */
async function measureBaselines(bench: Bench): Promise<void> {
  const plainPort = await freePort()
  const plain = start(['--import', 'tsx', 'bench/plain-server.ts'], { PORT: String(plainPort) })
  stopAtEnd(bench, plain)
  await waitFor(`http://127.0.0.1:${plainPort}/plain`)
  bench.results.push(
    await drive(
      'plain Fastify route (small JSON)',
      `http://127.0.0.1:${plainPort}/plain`,
      plain.pid as number,
      allocationBody(deviceCount),
    ),
  )
  const answerFile = join(bench.dir, 'answer.json')
  await withAllot(bench, { DATABASE_URL: `sqlite:${join(bench.dir, 'capture.sqlite')}` }, async ({ url }) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: allocationBody(1)(),
    })
    writeFileSync(answerFile, await res.text())
  })
  const floorPort = await freePort()
  const floor = start(['--import', 'tsx', 'bench/floor-server.ts'], {
    PORT: String(floorPort),
    ANSWER_FILE: answerFile,
  })
  stopAtEnd(bench, floor)
  await waitFor(`http://127.0.0.1:${floorPort}/floor`)
  const items = answerItems(answerFile)
  bench.results.push(
    await drive(
      `signed floor (the demo answer, ${items} items, as bytes + one HMAC per item)`,
      `http://127.0.0.1:${floorPort}/floor`,
      floor.pid as number,
      allocationBody(deviceCount),
    ),
    await drive(
      `AES floor (the demo answer, ${items} items, as bytes + one AES-128 block per item)`,
      `http://127.0.0.1:${floorPort}/floor-aes`,
      floor.pid as number,
      allocationBody(deviceCount),
    ),
  )
  bench.floor = { url: `http://127.0.0.1:${floorPort}/floor-aes`, pid: floor.pid as number }
}

/** A throw-away MariaDB database for one scenario, dropped at the end of the run with its Redis keys. */
async function mariadbDatabase(bench: Bench): Promise<string> {
  const db = `allot_bench_${randomBytes(4).toString('hex')}`
  const conn = await createConnection(args.mysql)
  await conn.query(`create database \`${db}\` character set utf8mb4 collate utf8mb4_unicode_ci`)
  await conn.end()
  bench.cleanups.push(async () => {
    const c = await createConnection(args.mysql)
    await c.query(`drop database if exists \`${db}\``)
    await c.end()
    await dropRedisKeys(args.redis, `${db}:`)
  })
  return db
}

/** Production mode on database `db`: MariaDB + Redis (its own key prefix), migrated and seeded at start. */
function production(db: string): Record<string, string> {
  return {
    DATABASE_URL: `${args.mysql.replace(/\/$/, '')}/${db}`,
    MIGRATE_ON_START: 'true',
    SEED_DEMO_DATA: 'true',
    REDIS_URL: args.redis,
    REDIS_KEY_PREFIX: `${db}:`,
  }
}

/** The allocation scenarios selected with --only: embedded (warm, cold), production, the synthetic catalogs. */
async function allocationScenarios(bench: Bench): Promise<void> {
  if (only.has('embedded')) {
    await measureWarm(
      bench,
      'allocation, embedded, warm (SQLite, demo catalog)',
      { DATABASE_URL: `sqlite:${join(bench.dir, 'demo.sqlite')}` },
      deviceCount,
    )
  }
  if (only.has('gzip')) await measureWire(bench)
  if (only.has('cold')) {
    await measureCold(bench, 'allocation, embedded, cold (SQLite, demo catalog, a new device per request)', {
      DATABASE_URL: `sqlite:${join(bench.dir, 'cold.sqlite')}`,
    })
  }
  for (const [scenario, client, through] of [
    ['production', 'http', "Allot's lean DynamoDB client"],
    ['production-sdk', 'sdk', 'the AWS SDK v3'],
  ] as const) {
    if (!only.has(scenario)) continue
    const db = await mariadbDatabase(bench)
    const dynamoPort = await freePort()
    stopAtEnd(bench, start(['node_modules/dynalite/cli.js', '--port', String(dynamoPort)], {}, '0,1'))
    await measureCold(
      bench,
      `allocation, production, cold (MariaDB + Redis + DynamoDB-compatible through ${through}, demo catalog, a new device per request)`,
      {
        ...production(db),
        PROFILE_STORE: 'dynamodb',
        DYNAMODB_CLIENT: client,
        DYNAMODB_TABLE: 'allot_bench_devices',
        DYNAMODB_ENDPOINT: `http://127.0.0.1:${dynamoPort}`,
        // dynalite answers ~650 requests/s on this machine: give it the time a real table would not need.
        DYNAMODB_TIMEOUT_MS: '5000',
        ALLOCATION_DEADLINE_MS: '2000',
        AWS_ACCESS_KEY_ID: 'bench',
        AWS_SECRET_ACCESS_KEY: 'bench',
      },
    )
  }
  if (only.has('production-sql')) {
    await measureCold(
      bench,
      'allocation, production, cold, profiles in SQL (MariaDB + Redis, demo catalog, a new device per request)',
      { ...production(await mariadbDatabase(bench)), PROFILE_STORE: 'sql' },
    )
  }
  await syntheticScenarios(bench)
}

/** Warm allocations over synthetic catalogs of 1,000 / 10,000 / 100,000 campaigns (those selected). */
async function syntheticScenarios(bench: Bench): Promise<void> {
  for (const total of [1_000, 10_000, 100_000]) {
    if (!only.has(String(total))) continue
    const file = join(bench.dir, `synthetic-${total}.sqlite`)
    const seeded = Date.now()
    await seedSyntheticCatalog(`sqlite:${file}`, total)
    process.stderr.write(`seeded ${total} campaigns in ${Date.now() - seeded} ms\n`)
    // The largest catalog also carries 100,000 cached devices: the memory target's case.
    const devices = total === 100_000 ? Math.max(deviceCount, 100_000) : deviceCount
    await measureWarm(
      bench,
      `allocation, ${total.toLocaleString('en')} campaigns (embedded, ${devices.toLocaleString('en')} devices)`,
      { DATABASE_URL: `sqlite:${file}`, SEED_DEMO_DATA: 'false' },
      devices,
    )
  }
}

/** The event scenarios (issue #20), when selected. */
function eventScenarios(bench: Bench): Promise<EventRow[]> {
  if (!only.has('events')) return Promise.resolve([])
  return eventBench({
    duration,
    connections,
    mysql: args.mysql,
    adminToken: ADMIN_TOKEN,
    payloadSecret: PAYLOAD_SECRET,
    hotDevices: Number(args['event-devices']),
    spreadDevices: Math.max(100, Math.ceil(Number(args['event-devices']) / 50)),
    newDatabase: () => mariadbDatabase(bench),
    productionEnv: production,
    profileDir: bench.profiles && join(bench.profiles, 'events'),
  })
}

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
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' })
  const dir = mkdtempSync(join(tmpdir(), 'allot-bench-'))
  const bench: Bench = {
    dir,
    cleanups: [() => rmSync(dir, { recursive: true, force: true })],
    results: [],
    profiles: args.profile ? mkdtempSync(join(tmpdir(), 'allot-profiles-')) : undefined,
    profileCount: 0,
  }
  try {
    // The baselines of the allocation scenarios (the event scenarios compare with a cold allocation instead).
    const baselines = [...only].some((scenario) => scenario !== 'events')
    if (baselines) await measureBaselines(bench)
    await allocationScenarios(bench)
    const events = await eventScenarios(bench)
    if (baselines) {
      report(bench.results)
      memoryReport(bench.results)
      wireReport(bench)
    }
    if (events.length > 0) eventReport(events, connections, duration)
    if (bench.profiles) profileReport(bench.results, bench.profiles)
  } finally {
    for (const cleanup of bench.cleanups.reverse()) await cleanup()
  }
}

function report(results: Result[]): void {
  const signed = results.find((r) => r.name.startsWith('signed floor')) ?? (results[0] as Result)
  const floor = results.find((r) => r.name.startsWith('AES floor')) ?? signed
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  console.log(
    `\n${connections} connections, ${duration} s per measurement, node ${process.version}, ${cpus().length} × ${cpu}, ` +
      `${hasTaskset ? 'server on CPU 0, load generator on CPU 1' : 'no taskset: unpinned'}\n`,
  )
  console.log(
    '| target | req/s | ÷ AES floor | ÷ signed floor | p50 ms | p99 ms | about half load: conns | req/s | p50 ms | p99 ms | CPU ms / req | CPU ÷ floor | AES floor around it: req/s | CPU ms / req | ÷ it | CPU ÷ its | RSS MB | errors | non-2xx | without device data | bytes / answer |',
  )
  console.log(
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  )
  for (const r of results) {
    const without = r.withoutDeviceData === undefined ? '' : `${(r.withoutDeviceData * 100).toFixed(1)} %`
    const a = r.floorAround
    const around = a
      ? `${a.rps.toFixed(0)} | ${a.cpuPer1k.toFixed(3)} | ${(r.rps / a.rps).toFixed(2)} | ${(r.cpuPer1k / a.cpuPer1k).toFixed(2)}`
      : ' | | | '
    console.log(
      `| ${r.name} | ${r.rps.toFixed(0)} | ${(r.rps / floor.rps).toFixed(2)} | ${(r.rps / signed.rps).toFixed(2)} | ${r.p50} | ${r.p99} | ${r.halfConnections} | ${r.halfRate.toFixed(0)} | ${r.halfP50} | ${r.halfP99} | ${r.cpuPer1k.toFixed(3)} | ${(r.cpuPer1k / floor.cpuPer1k).toFixed(2)} | ${around} | ${r.rssMb.toFixed(0)} | ${r.errors} | ${r.non2xx} | ${without} | ${r.bytesPerAnswer.toFixed(0)} |`,
    )
  }
  stallReport(results)
  targets(results, floor)
}

/** What held the event loop during each Allot scenario's half-load run: loop delay and GC pauses. */
function stallReport(results: Result[]): void {
  const rows = results.filter((r) => r.halfStalls)
  if (rows.length === 0) return
  console.log(
    '\n| at about half load | p99 ms | event-loop delay p99 ms | max ms | main thread waiting for its CPU | GC pauses / 1,000 req | GC ms / 1,000 req | GC pauses over 10 ms |',
  )
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of rows) {
    const s = r.halfStalls as Stalls
    console.log(
      `| ${r.name} | ${r.halfP99} | ${s.loopP99Ms.toFixed(1)} | ${s.loopMaxMs.toFixed(1)} | ${(s.cpuWaitShare * 100).toFixed(0)} % | ${s.gcPer1k.toFixed(1)} | ${s.gcMsPer1k.toFixed(1)} | ${s.gcOver10Ms} |`,
    )
  }
}

/** The targets of issues #11 and #22 (against the AES floor), each met or not, from this run's figures. */
function targets(results: Result[], floor: Result): void {
  const lines = [...floorTargets(results, floor), ...tailAndScaleTargets(results, floor)]
  console.log('\n| target (issues #11, #22) | measured | met |')
  console.log('| --- | ---: | :---: |')
  for (const [what, met, value] of lines) console.log(`| ${what} | ${value} | ${met ? 'yes' : 'no'} |`)
}

type TargetLine = [string, boolean | undefined, string]

/**
 * Most answers of a cold scenario read their device: a CPU target counts only when at most 1 % of them went
 * without it (each of those skips the store reads the scenario is there to measure).
 */
const coldForReal = (r: Result) => (r.withoutDeviceData ?? 0) <= 0.01
const withoutData = (r: Result) =>
  r.withoutDeviceData ? `, ${(r.withoutDeviceData * 100).toFixed(1)} % of answers without device data` : ''

/**
 * A scenario's ratio to the AES floor: to the floor measured around it (half just before its full-load run,
 * half just after) when there is one, so that the machine's speed, which drifts over a run, is the same on
 * both sides of the ratio; else to the floor measured at the start of the run. `of` picks the figure (req/s
 * or CPU). The value printed carries the other ratio too.
 */
function toFloor(r: Result, first: Result, of: (x: Result | FloorReading) => number, unit = '') {
  const atStart = of(r) / of(first)
  if (!r.floorAround) return { ratio: atStart, shown: `${atStart.toFixed(2)}${unit}` }
  const ratio = of(r) / of(r.floorAround)
  return {
    ratio,
    shown: `${ratio.toFixed(2)}${unit} (against the floor at the start of the run: ${atStart.toFixed(2)}${unit})`,
  }
}
const rps = (x: Result | FloorReading) => x.rps
const cpuOf = (x: Result | FloorReading) => x.cpuPer1k

/** The targets set against the AES floor (measured around each scenario): req/s embedded, CPU in production. */
function floorTargets(results: Result[], floor: Result): TargetLine[] {
  const find = (prefix: string) => results.find((r) => r.name.startsWith(prefix))
  const lines: TargetLine[] = []
  const warm = find('allocation, embedded, warm')
  const cold = find('allocation, embedded, cold')
  const production = results.filter((r) => r.name.startsWith('allocation, production, cold ('))
  const productionSql = find('allocation, production, cold, profiles in SQL')
  if (cold) {
    const { ratio, shown } = toFloor(cold, floor, rps)
    lines.push(['embedded cold ≥ 0.40 of the AES floor', ratio >= 0.4, shown])
  }
  if (warm) {
    const { ratio, shown } = toFloor(warm, floor, rps)
    lines.push(['embedded warm ≥ 0.50 of the AES floor', ratio >= 0.5, shown])
  }
  for (const r of production) {
    const { ratio, shown } = toFloor(r, floor, cpuOf, ' ×')
    lines.push([
      `production cold (DynamoDB${r.name.includes('AWS SDK') ? ', DYNAMODB_CLIENT=sdk' : ''}): CPU per allocation ≤ 3 × the AES floor's`,
      ratio <= 3 && coldForReal(r),
      `${shown}${withoutData(r)}`,
    ])
  }
  if (productionSql) {
    const { ratio, shown } = toFloor(productionSql, floor, cpuOf, ' ×')
    lines.push([
      "production cold, profiles in SQL: CPU per allocation ≤ 2.5 × the AES floor's",
      ratio <= 2.5 && coldForReal(productionSql),
      `${shown}${withoutData(productionSql)}`,
    ])
  }
  return lines
}

/** The tail latency targets, and the 100,000-campaign catalog's CPU and memory. */
function tailAndScaleTargets(results: Result[], floor: Result): TargetLine[] {
  const find = (prefix: string) => results.find((r) => r.name.startsWith(prefix))
  const lines: TargetLine[] = []
  const cold = find('allocation, embedded, cold')
  const small = find('allocation, 1,000 campaigns')
  const large = find('allocation, 100,000 campaigns')
  for (const r of results.filter((x) => x.name.startsWith('allocation'))) {
    const limit = r.name.includes('production') ? 10 : 5
    lines.push([`p99 ≤ ${limit} ms at half load: ${r.name}`, r.halfP99 <= limit, `${r.halfP99} ms`])
  }
  if (cold) lines.push([`p99 ≤ 30 ms at full load, embedded cold`, cold.p99 <= 30, `${cold.p99} ms`])
  if (small && large) {
    // Each against the floor measured around it: the two scenarios run minutes apart.
    const ratio = toFloor(large, floor, cpuOf).ratio / toFloor(small, floor, cpuOf).ratio
    const raw = large.cpuPer1k / small.cpuPer1k
    const both = large.floorAround && small.floorAround
    lines.push([
      'CPU per allocation, 100,000 campaigns ≤ 2 × 1,000',
      ratio <= 2,
      both
        ? `${ratio.toFixed(2)} × (each against the floor around it; CPU ms alone: ${raw.toFixed(2)} ×)`
        : `${ratio.toFixed(2)} ×`,
    ])
  }
  if (large)
    lines.push([
      'RSS ≤ 300 MB with 100,000 campaigns and 100,000 devices',
      large.rssMb <= 300,
      `${large.rssMb.toFixed(0)} MB`,
    ])
  return lines
}

/** Bytes on the wire: the captured answer gzipped in process, and the `gzip` scenario's served answers. */
function wireReport(bench: Bench): void {
  compressionReport(gzipCost(join(bench.dir, 'answer.json')), bench.wire)
}

/** Each profiled scenario's top functions by self time, as shares of its busy time (the whole process life: warming included). */
function profileReport(results: Result[], dir: string): void {
  for (const r of results) {
    if (!r.profile) continue
    const file = readdirSync(r.profile).find((f) => f.endsWith('.cpuprofile'))
    if (!file) continue
    console.log(`\n${r.name}: self time (${join(r.profile, file)})\n`)
    console.log('| share | function (file:line) |')
    console.log('| ---: | --- |')
    for (const row of selfTimes(join(r.profile, file)))
      console.log(`| ${(row.share * 100).toFixed(1)} % | ${row.what.replaceAll('|', '\\|')} |`)
  }
  console.log(`\nprofiles kept in ${dir}`)
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
