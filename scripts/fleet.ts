/**
 * `npm run fleet` (issue #21): the fleet under fire. Three Allot processes in production mode (a throw-away
 * MariaDB database, a private Redis Cluster of 3 masters + 3 replicas, device profiles on dynalite) behind the
 * real nginx with the shipped config; phones from `--devices` devices send mixed SDK traffic for
 * `--duration` seconds while each instance in turn gets SIGTERM and is started again (a rolling deploy) and
 * one Redis master is killed (its replica takes over). Then it checks, and prints: 0 × 5xx at the edge,
 * every grant in the ledger and at the publisher exactly once, the capped and budgeted ad within its limits,
 * the delivery reports equal to what was sent. Exit code 1 on any failure; everything it started is stopped
 * and removed, also on a failure or Ctrl-C.
 *
 *   npm run fleet                                   # 60 s, 10,000 devices
 *   npm run fleet -- --duration 40 --devices 10000  # the bounded run CI makes (.ci/run)
 */
import { parseArgs } from 'node:util'
import { type FleetCatalog, seedFleetCatalog } from './fleet/catalog.js'
import { type Check, drainPostbacks, runChecks } from './fleet/checks.js'
import { createFleet, type Fleet, KINDS } from './fleet/load.js'
import { ADMIN_TOKEN, type Stack, startStack } from './fleet/stack.js'

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    devices: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '32' },
    budget: { type: 'string', default: '1500' },
  },
})
const duration = Number(args.duration)
const devices = Number(args.devices)
const connections = Number(args.connections)
const started = Date.now()
const log = (line: string) =>
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}\n`)

let stack: Stack | undefined
let fleet: Fleet | undefined
let closing: Promise<void> | undefined
/** Set by Ctrl-C: the phones stop sending and the faults stop before the next step. */
let aborted = false
/** Stops the phones and everything the stack started; once, whoever asks first. */
const cleanup = () => {
  closing ??= (async () => {
    aborted = true
    await running?.catch(() => {})
    await faulting?.catch(() => {})
    await fleet?.close().catch(() => {})
    await stack?.close()
  })()
  return closing
}
/** The phones' current run and the faults, awaited before anything closes (a restart must not outlive it). */
let running: Promise<void> | undefined
let faulting: Promise<void> | undefined
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    log(`${signal}: stopping everything`)
    void cleanup().finally(() => process.exit(130))
  })

async function main(): Promise<boolean> {
  stack = await startStack(3, log)
  const origin = `http://127.0.0.1:${stack.instances[0]?.port}`
  const catalog = await seedFleetCatalog(origin, ADMIN_TOKEN, stack.postbackUrl, Number(args.budget))
  // Every instance serves the new catalog (change notice, or its next refresh) before the phones start.
  fleet = createFleet(stack.edge, catalog, devices, connections)
  await catalogEverywhere(stack, catalog, fleet)
  const warm = Date.now()
  running = fleet.run(connections, () => aborted, true)
  await running
  log(`first allocation of ${devices} devices through nginx in ${((Date.now() - warm) / 1000).toFixed(1)} s`)
  const measured = snapshot(fleet)
  const t0 = Date.now()
  let faultsDone = false
  let lastFault = 0
  const load = fleet.run(
    connections,
    () => aborted || (faultsDone && Date.now() - t0 >= duration * 1000 && Date.now() - lastFault > 3000),
  )
  running = load
  faulting = faults(stack, duration, () => {
    lastFault = Date.now()
  })
  await faulting
  faultsDone = true
  lastFault = Date.now()
  await load
  if (aborted) throw new Error('interrupted: no checks')
  const seconds = (Date.now() - t0) / 1000
  log(`load stopped after ${seconds.toFixed(1)} s`)
  printRates(fleet, measured, seconds)
  const drained = await drainPostbacks(stack, 30)
  log(drained ? 'every postback delivered' : 'postbacks still pending after 30 s')
  const checks = await runChecks(stack, catalog, fleet.tally)
  return printChecks(checks)
}

/** The rolling deploy (each instance SIGTERM, then started again) and, half-way, a Redis master killed. */
async function faults(s: Stack, seconds: number, noted: () => void): Promise<void> {
  await Promise.all([rollingDeploy(s, seconds, noted), killRedisMaster(s, seconds, noted)])
}

/** Waits `ms`, or less when Ctrl-C comes first. */
async function pause(ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!aborted && Date.now() < end)
    await new Promise((r) => setTimeout(r, Math.min(100, end - Date.now())))
}

async function rollingDeploy(s: Stack, seconds: number, noted: () => void): Promise<void> {
  await pause(Math.min(5, seconds * 0.1) * 1000)
  for (const instance of s.instances) {
    if (aborted) return
    const t = Date.now()
    await instance.stop()
    const down = Date.now() - t
    await instance.start()
    noted()
    log(
      `rolling deploy: ${instance.name} stopped in ${down} ms, ready again ${Date.now() - t} ms after SIGTERM`,
    )
  }
}

async function killRedisMaster(s: Stack, seconds: number, noted: () => void): Promise<void> {
  await pause(seconds * 500)
  if (aborted) return
  const [victim] = await s.cluster.masters()
  const t = Date.now()
  await s.cluster.kill(victim as number)
  await s.cluster.healthy()
  noted()
  log(
    `Redis master :${victim} killed; the cluster was ok again after ${Date.now() - t} ms (its replica took over)`,
  )
}

async function catalogEverywhere(s: Stack, catalog: FleetCatalog, f: Fleet): Promise<void> {
  const body = `unit_id=${catalog.unitId}&app_id=${catalog.unitId}&device_id=1&ifa=i&unit_device_token=u&sdk_version=3000&timezone=Asia%2FSeoul`
  const deadline = Date.now() + 15_000
  for (const instance of s.instances) {
    while (!(await servesCatalog(instance.port, body, catalog, f))) {
      if (Date.now() > deadline) throw new Error(`${instance.name} did not serve the fleet catalog in 15 s`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}

/** One allocation from one instance: whether it serves the capped ad; its items go in the tally. */
async function servesCatalog(port: number, body: string, catalog: FleetCatalog, f: Fleet): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/api/allocation/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  })
  const ids = res.status === 200 ? ((await res.json()) as { campaigns: { id: number }[] }).campaigns : []
  // These answers are in the delivery report too.
  for (const { id } of ids) {
    const expected = f.tally.expected.get(id)
    if (expected) expected.allocations++
  }
  return ids.some((c) => c.id === catalog.capped)
}

/** Requests per kind so far (the first allocations are left out of the rates). */
function snapshot(f: Fleet): Map<string, number> {
  return new Map([...f.tally.kinds].map(([kind, stats]) => [kind, stats.ms.length]))
}

function printRates(f: Fleet, before: Map<string, number>, seconds: number): void {
  console.log(`\nUnder fire: ${devices} devices, ${connections} connections, ${seconds.toFixed(1)} s\n`)
  console.log('| kind | requests | req/s | p50 ms | p99 ms | statuses | outcomes |')
  console.log('| --- | ---: | ---: | ---: | ---: | --- | --- |')
  let total = 0
  for (const kind of KINDS) {
    const stats = f.tally.kinds.get(kind)
    if (!stats) continue
    const ms = stats.ms.slice(before.get(kind) ?? 0).sort((a, b) => a - b)
    total += ms.length
    const q = (p: number) =>
      ms.length ? (ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? 0).toFixed(0) : '-'
    const list = (m: Map<string | number, number>) => [...m].map(([k, n]) => `${k} ${n}`).join(', ')
    console.log(
      `| ${kind} | ${ms.length} | ${(ms.length / seconds).toFixed(0)} | ${q(0.5)} | ${q(0.99)} | ${list(stats.statuses)} | ${list(stats.outcomes)} |`,
    )
  }
  console.log(`| all | ${total} | ${(total / seconds).toFixed(0)} | | | | |`)
  console.log('\n(statuses and outcomes include the first allocation of every device)\n')
}

function printChecks(checks: Check[]): boolean {
  for (const c of checks) console.log(`${c.ok ? 'PASS' : 'FAIL'}  ${c.name}\n      ${c.detail}`)
  const ok = checks.every((c) => c.ok)
  console.log(
    `\n${ok ? 'fleet: all checks passed' : 'fleet: FAILED'} (${((Date.now() - started) / 1000).toFixed(0)} s in all)`,
  )
  return ok
}

main()
  .then(
    (ok) => (process.exitCode = ok ? 0 : 1),
    (err: unknown) => {
      console.error('fleet:', err)
      process.exitCode = 1
    },
  )
  .finally(async () => {
    await cleanup()
  })
