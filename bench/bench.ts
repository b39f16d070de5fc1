/**
 * `npm run bench`: drives Allot's allocation endpoint with autocannon beside two baselines measured in the
 * same run at the same concurrency: a plain Fastify route (a small JSON answer) and the *signed floor* (a
 * plain Fastify route sending a captured allocation answer as bytes plus one HMAC per item: what merely
 * sending the answer costs). It prints throughput, latency, CPU per request, RSS and the ratio of each
 * scenario to the signed floor. Scenarios: the embedded default warm (every device cached) and cold (a new
 * device on every request, none pre-warmed), production mode cold (MariaDB + Redis + a DynamoDB-compatible
 * server; compared in CPU per request, since the stores share the machine), and synthetic catalogs of
 * 1,000 / 10,000 / 100,000 active campaigns. Each target is measured at full load, then at about half of
 * that rate for its tail latency. Servers are pinned to CPU 0 and the load generator to CPU 1 (taskset).
 *
 * The `reach` scenario runs first, in process: reach estimates over 1,000,000 synthetic devices
 * (bench/reach-bench.ts).
 *
 *   npm run bench                       # everything (about 15 minutes on 2 cores)
 *   npm run bench -- --only reach --reach-devices 1000000
 *   npm run bench -- --only embedded,cold,production --duration 5
 *   npm run bench -- --only cold --profile   # also a CPU profile of each Allot scenario, by self time
 *
 * With --profile the Allot servers run under `node --cpu-prof` (which costs throughput: read the figures of
 * such a run for the shares, not for the targets) and each scenario's top functions by self time follow
 * the tables; the .cpuprofile files stay in the printed directory for Chrome DevTools.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { createConnection } from 'mysql2/promise'
import { freePort } from '../test/helpers/net.js'
import { selfTimes } from './profile-summary.js'
import { reachBench } from './reach-bench.js'
import { seedSyntheticCatalog } from './synthetic-catalog.js'

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    devices: { type: 'string', default: '10000' },
    only: { type: 'string', default: 'reach,embedded,cold,production,production-sql,1000,10000,100000' },
    'reach-devices': { type: 'string', default: '1000000' },
    'reach-sample': { type: 'string', default: '262144' },
    mysql: { type: 'string', default: process.env.MYSQL_TEST_URL ?? 'mysql://root@127.0.0.1:3306' },
    redis: { type: 'string', default: process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379' },
    profile: { type: 'boolean', default: false },
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
  cold?: boolean
  /** The scenario's CPU profile (with --profile). */
  profile?: string
}

/** Items in a captured allocation answer. */
function answerItems(file: string): number {
  return (JSON.parse(readFileSync(file, 'utf8')) as { campaigns: unknown[] }).campaigns.length
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

/** Devices in the server's in-process cache, from its /metrics (on the ops listener). */
async function cachedDevices(ops: string): Promise<number> {
  const text = await (await fetch(`${ops}/metrics`)).text()
  return Number(text.match(/^allot_device_cache_entries (\d+)/m)?.[1] ?? 0)
}

/** A new device on every request (none cached, none in the stores): the cold path, as a fleet sees it. */
function coldBody(): () => string {
  let next = 1_000_000 + Math.floor(Math.random() * 1_000_000_000)
  const warm = allocationBody(1)
  return () => warm().replace(/device_id=\d+/, `device_id=${next++}`)
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
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' })
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
        'plain Fastify route (small JSON)',
        `http://127.0.0.1:${plainPort}/plain`,
        plain.pid as number,
        allocationBody(deviceCount),
      ),
    )

    /** Starts Allot with `env`; `prepare` runs before measuring (warming devices, capturing an answer). */
    const profiles = args.profile ? mkdtempSync(join(tmpdir(), 'allot-profiles-')) : undefined
    let profileCount = 0
    const withAllot = async <T>(
      env: Record<string, string>,
      work: (urls: { url: string; ops: string; pid: number; profileDir?: string }) => Promise<T>,
    ): Promise<T> => {
      const port = await freePort()
      const opsPort = await freePort()
      const profileDir = profiles && join(profiles, String(profileCount++))
      if (profileDir) mkdirSync(profileDir)
      const profileFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []
      // The compiled server, as `npm start` and the image run it.
      const allot = start([...profileFlags, 'dist/server.js'], {
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

    /** Warm: every device allocated once and cached before the measured run. */
    const measureWarm = (name: string, env: Record<string, string>, devices: number) =>
      withAllot(env, async ({ url, ops, pid, profileDir }) => {
        await run(url, allocationBody(1), 1) // load code paths before the baseline RSS
        const rssBefore = rssMb(pid)
        await warmDevices(url, ops, devices)
        results.push({
          ...(await drive(name, url, pid, allocationBody(devices))),
          rssBeforeDevicesMb: rssBefore,
          cachedDevices: await cachedDevices(ops),
          profile: profileDir,
        })
        process.stderr.write(`measured: ${name}\n`)
      })

    /** Cold: a device the process (and the stores) never saw on every request. */
    const measureCold = (name: string, env: Record<string, string>) =>
      withAllot(env, async ({ url, pid, profileDir }) => {
        results.push({ ...(await drive(name, url, pid, coldBody())), cold: true, profile: profileDir })
        process.stderr.write(`measured: ${name}\n`)
      })

    // The signed floor sends an answer Allot gave for the demo unit (embedded default).
    const answerFile = join(dir, 'answer.json')
    await withAllot({ DATABASE_URL: `sqlite:${join(dir, 'capture.sqlite')}` }, async ({ url }) => {
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
    stop(floor)
    await waitFor(`http://127.0.0.1:${floorPort}/floor`)
    results.push(
      await drive(
        `signed floor (the demo answer, ${answerItems(answerFile)} items, as bytes + one HMAC per item)`,
        `http://127.0.0.1:${floorPort}/floor`,
        floor.pid as number,
        allocationBody(deviceCount),
      ),
    )

    if (only.has('embedded')) {
      await measureWarm(
        'allocation, embedded, warm (SQLite, demo catalog)',
        { DATABASE_URL: `sqlite:${join(dir, 'demo.sqlite')}` },
        deviceCount,
      )
    }
    if (only.has('cold')) {
      await measureCold('allocation, embedded, cold (SQLite, demo catalog, a new device per request)', {
        DATABASE_URL: `sqlite:${join(dir, 'cold.sqlite')}`,
      })
    }

    /** A throw-away MariaDB database for one scenario. */
    const mariadbDatabase = async () => {
      const db = `allot_bench_${randomBytes(4).toString('hex')}`
      const conn = await createConnection(args.mysql)
      await conn.query(`create database \`${db}\` character set utf8mb4 collate utf8mb4_unicode_ci`)
      await conn.end()
      cleanups.push(async () => {
        const c = await createConnection(args.mysql)
        await c.query(`drop database if exists \`${db}\``)
        await c.end()
      })
      return db
    }
    const production = (db: string) => ({
      DATABASE_URL: `${args.mysql.replace(/\/$/, '')}/${db}`,
      MIGRATE_ON_START: 'true',
      SEED_DEMO_DATA: 'true',
      REDIS_URL: args.redis,
      REDIS_KEY_PREFIX: `${db}:`,
    })

    if (only.has('production')) {
      const db = await mariadbDatabase()
      const dynamoPort = await freePort()
      const dynamo = start(['node_modules/dynalite/cli.js', '--port', String(dynamoPort)], {})
      stop(dynamo)
      await measureCold(
        'allocation, production, cold (MariaDB + Redis + DynamoDB-compatible, demo catalog, a new device per request)',
        {
          ...production(db),
          PROFILE_STORE: 'dynamodb',
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
        'allocation, production, cold, profiles in SQL (MariaDB + Redis, demo catalog, a new device per request)',
        { ...production(await mariadbDatabase()), PROFILE_STORE: 'sql' },
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
      await measureWarm(
        `allocation, ${total.toLocaleString('en')} campaigns (embedded, ${devices.toLocaleString('en')} devices)`,
        { DATABASE_URL: `sqlite:${file}`, SEED_DEMO_DATA: 'false' },
        devices,
      )
    }
    report(results)
    memoryReport(results)
    if (profiles) profileReport(results, profiles)
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup()
  }
}

function report(results: Result[]): void {
  const floor = results.find((r) => r.name.startsWith('signed floor')) ?? (results[0] as Result)
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  console.log(
    `\n${connections} connections, ${duration} s per measurement, node ${process.version}, ${cpus().length} × ${cpu}, ` +
      `${hasTaskset ? 'server on CPU 0, load generator on CPU 1' : 'no taskset: unpinned'}\n`,
  )
  console.log(
    '| target | req/s | ÷ signed floor | p50 ms | p99 ms | about half load: conns | req/s | p50 ms | p99 ms | CPU ms / req | CPU ÷ floor | RSS MB | errors | non-2xx |',
  )
  console.log(
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  )
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.rps.toFixed(0)} | ${(r.rps / floor.rps).toFixed(2)} | ${r.p50} | ${r.p99} | ${r.halfConnections} | ${r.halfRate.toFixed(0)} | ${r.halfP50} | ${r.halfP99} | ${r.cpuPer1k.toFixed(3)} | ${(r.cpuPer1k / floor.cpuPer1k).toFixed(2)} | ${r.rssMb.toFixed(0)} | ${r.errors} | ${r.non2xx} |`,
    )
  }
  targets(results, floor)
}

/** The targets of issue #11, each met or not, from this run's figures. */
function targets(results: Result[], floor: Result): void {
  const find = (prefix: string) => results.find((r) => r.name.startsWith(prefix))
  const lines: [string, boolean | undefined, string][] = []
  const warm = find('allocation, embedded, warm')
  const cold = find('allocation, embedded, cold')
  const production = find('allocation, production, cold (')
  const productionSql = find('allocation, production, cold, profiles in SQL')
  const small = find('allocation, 1,000 campaigns')
  const large = find('allocation, 100,000 campaigns')
  if (cold)
    lines.push([
      'embedded cold ≥ 0.50 of the signed floor',
      cold.rps / floor.rps >= 0.5,
      (cold.rps / floor.rps).toFixed(2),
    ])
  if (warm)
    lines.push([
      'embedded warm ≥ 0.60 of the signed floor',
      warm.rps / floor.rps >= 0.6,
      (warm.rps / floor.rps).toFixed(2),
    ])
  if (production)
    lines.push([
      "production cold: CPU per allocation ≤ 2.5 × the floor's",
      production.cpuPer1k / floor.cpuPer1k <= 2.5,
      `${(production.cpuPer1k / floor.cpuPer1k).toFixed(2)} ×`,
    ])
  if (productionSql)
    lines.push([
      "production cold, profiles in SQL: CPU per allocation ≤ 2.5 × the floor's",
      productionSql.cpuPer1k / floor.cpuPer1k <= 2.5,
      `${(productionSql.cpuPer1k / floor.cpuPer1k).toFixed(2)} ×`,
    ])
  for (const r of results.filter((x) => x.name.startsWith('allocation')))
    lines.push([`p99 ≤ 10 ms at half load: ${r.name}`, r.halfP99 <= 10, `${r.halfP99} ms`])
  if (small && large)
    lines.push([
      'CPU per allocation, 100,000 campaigns ≤ 2 × 1,000',
      large.cpuPer1k / small.cpuPer1k <= 2,
      `${(large.cpuPer1k / small.cpuPer1k).toFixed(2)} ×`,
    ])
  if (large)
    lines.push([
      'RSS ≤ 300 MB with 100,000 campaigns and 100,000 devices',
      large.rssMb <= 300,
      `${large.rssMb.toFixed(0)} MB`,
    ])
  console.log('\n| target (issue #11) | measured | met |')
  console.log('| --- | ---: | :---: |')
  for (const [what, met, value] of lines) console.log(`| ${what} | ${value} | ${met ? 'yes' : 'no'} |`)
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
