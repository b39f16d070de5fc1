/**
 * `npm run bench`: drives Allot's allocation endpoint and a plain Fastify route with autocannon, in the
 * same run, at the same concurrency, and prints throughput, latency, CPU per request and the ratio.
 * Servers are pinned to CPU 0 and the load generator to CPU 1 (taskset) so the generator is not the limit.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    devices: { type: 'string', default: '10000' },
  },
})
const duration = Number(args.duration)
const connections = Number(args.connections)
const deviceCount = Number(args.devices)
const CLK_TCK = 100

type Result = {
  name: string
  rps: number
  p50: number
  p99: number
  cpuPer1k: number
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

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

function start(script: string, env: Record<string, string>): ChildProcess {
  const cmd = [process.execPath, '--import', 'tsx', script]
  const [file, ...rest] = hasTaskset ? ['taskset', '-c', '0', ...cmd] : cmd
  return spawn(file as string, rest, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(url)).status < 500) return
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} did not come up`)
}

/** utime + stime of a process (and, through taskset, its exec'd child: the same pid) in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}

function allocationBody(): string {
  const device = 1 + Math.floor(Math.random() * deviceCount)
  const sex = device % 2 ? 'M' : 'F'
  return `unit_id=1001&device_id=${device}&sex=${sex}&year_of_birth=${1960 + (device % 45)}&language=ko&country=KR&device_os=${24 + (device % 10)}&carrier=SKT&region=${encodeURIComponent('서울특별시 관악구')}`
}

/** Touches every device once so the measured run sees a warm device cache, as a long-running process does. */
async function warmDevices(url: string): Promise<void> {
  let next = 0
  await autocannon({
    url,
    connections,
    amount: deviceCount,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    requests: [
      { setupRequest: (req) => ({ ...req, body: `unit_id=1001&device_id=${(next++ % deviceCount) + 1}` }) },
    ],
  })
}

async function drive(name: string, url: string, pid: number, body: () => string): Promise<Result> {
  // Warm up (JIT, caches), then measure.
  await autocannon({ url, connections, duration: 2, method: 'POST' })
  const cpuBefore = cpuSeconds(pid)
  const result = await autocannon({
    url,
    connections,
    duration,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    requests: [
      {
        setupRequest: (req) => ({ ...req, body: body() }),
      },
    ],
  })
  const cpu = cpuSeconds(pid) - cpuBefore
  return {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuPer1k: (cpu / Math.max(1, result.requests.total)) * 1000,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  }
}

async function main(): Promise<void> {
  if (hasTaskset) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' })
  const dir = mkdtempSync(join(tmpdir(), 'allot-bench-'))
  const children: ChildProcess[] = []
  try {
    const plainPort = await freePort()
    const plain = start('bench/plain-server.ts', { PORT: String(plainPort) })
    children.push(plain)
    const allotPort = await freePort()
    const allot = start('src/server.ts', {
      PORT: String(allotPort),
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${join(dir, 'bench.sqlite')}`,
      LOG_LEVEL: 'warn',
    })
    children.push(allot)
    await waitFor(`http://127.0.0.1:${plainPort}/plain`)
    await waitFor(`http://127.0.0.1:${allotPort}/readyz`)

    await warmDevices(`http://127.0.0.1:${allotPort}/api/allocation/`)
    const results = [
      await drive(
        'plain Fastify route',
        `http://127.0.0.1:${plainPort}/plain`,
        plain.pid as number,
        allocationBody,
      ),
      await drive(
        'allocation, embedded',
        `http://127.0.0.1:${allotPort}/api/allocation/`,
        allot.pid as number,
        allocationBody,
      ),
    ]
    report(results)
  } finally {
    for (const child of children) child.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  }
}

function report(results: Result[]): void {
  const base = results[0] as Result
  console.log(
    `\n${connections} connections, ${duration} s each, ${deviceCount} distinct devices, node ${process.version}, ` +
      `${hasTaskset ? 'server on CPU 0, load generator on CPU 1' : 'no taskset: unpinned'}\n`,
  )
  console.log('| target | req/s | p50 ms | p99 ms | CPU s / 1k req | ÷ plain (req/s) | errors | non-2xx |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.cpuPer1k.toFixed(3)} | ${(r.rps / base.rps).toFixed(2)} | ${r.errors} | ${r.non2xx} |`,
    )
  }
}

await main()
