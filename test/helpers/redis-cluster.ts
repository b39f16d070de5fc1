import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { freePort } from './net.js'
import { redisBackend } from './redis.js'
import { ownRedisSkip, REDIS_SERVER_BIN } from './redis-server.js'

const run = promisify(execFile)
/** The redis-cli binary that creates the cluster; override with REDIS_CLI_BIN. */
const REDIS_CLI_BIN = process.env.REDIS_CLI_BIN ?? 'redis-cli'

export type OwnRedisCluster = {
  /** The seed nodes, as REDIS_URL takes them with REDIS_CLUSTER=true. */
  url: string
  ports: readonly number[]
  /** The ports of the nodes that are masters now. */
  masters(): Promise<number[]>
  /** Kills one node at once (SIGKILL); its replica takes over after cluster-node-timeout. */
  kill(port: number): Promise<void>
  /** Starts a killed node again (it rejoins, as a replica if it was failed over). */
  start(port: number): Promise<void>
  /**
   * Waits until every live node reports the cluster ok and maps every slot to a live master, so right
   * after a kill it waits for the replica to take over (the dead master keeps its slots until then).
   */
  healthy(timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

/**
 * A private Redis Cluster of 3 masters and 3 replicas on free local ports (Debian's redis-server and
 * redis-cli, no persistence), with a short node timeout so a killed master fails over in about a second.
 */
export async function startOwnRedisCluster(): Promise<OwnRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'allot-cluster-'))
  // Each node's cluster bus on a free port of its own: the default, port + 10000, may be taken, or past
  // 65535 for a port above 55535 (redis-server then exits at once).
  const free = new Set<number>()
  while (free.size < 12) free.add(await freePort())
  const [ports, buses] = [[...free].slice(0, 6), [...free].slice(6)]
  const busPorts = new Map(ports.map((p, i) => [p, buses[i] as number]))
  const nodes = new Map<number, ChildProcess>()
  const start = async (port: number) => {
    const child = spawn(
      REDIS_SERVER_BIN,
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        ...['--cluster-enabled', 'yes', '--cluster-node-timeout', '1000', '--repl-diskless-sync-delay', '0'],
        ...['--repl-ping-replica-period', '1', '--cluster-port', String(busPorts.get(port))],
        ...['--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir],
      ],
      { stdio: 'ignore' },
    )
    nodes.set(port, child)
    await until(() => answers(port), 5_000, `node ${port} did not answer`)
  }
  await Promise.all(ports.map(start))
  await run(REDIS_CLI_BIN, [
    '--cluster',
    'create',
    ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas',
    '1',
    '--cluster-yes',
  ])
  const cluster: OwnRedisCluster = {
    url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','),
    ports,
    async masters() {
      const live = [...nodes.keys()]
      const roles = await Promise.all(live.map(async (p) => [p, await roleOf(p)] as const))
      return roles.filter(([, role]) => role === 'master').map(([p]) => p)
    },
    async kill(port) {
      const child = nodes.get(port)
      nodes.delete(port)
      if (!child || child.exitCode !== null) return
      child.kill('SIGKILL')
      await once(child, 'exit')
    },
    start,
    async healthy(timeoutMs = 15_000) {
      await until(
        async () => {
          const live = [...nodes.keys()]
          const seen = await Promise.all(
            live.map(async (p) => ((await clusterOk(p)) ? await slotMasters(p) : undefined)),
          )
          return seen.every((masters) => masters?.every((m) => live.includes(m)) === true)
        },
        timeoutMs,
        'the cluster did not become ok',
      )
    },
    async close() {
      await Promise.all([...nodes.keys()].map((p) => cluster.kill(p)))
      rmSync(dir, { recursive: true, force: true })
    },
  }
  await cluster.healthy()
  // `--cluster create` returns before the replicas have joined and synced; until then a killed master
  // has no replica to take over, so the cluster would stay down. A replica is listed in CLUSTER SLOTS once
  // its offset moves, which the master's ping every repl-ping-replica-period (1 s here, not 10) does.
  await until(
    async () => (await Promise.all(ports.map(replicated))).every(Boolean),
    30_000,
    'the replicas did not join and sync',
  )
  return cluster
}

async function until(check: () => Promise<boolean>, ms: number, message: string): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(message)
}

/** Runs `work` on a plain connection to one node; undefined when the node does not answer. */
async function onNode<T>(port: number, work: (redis: Redis) => Promise<T>): Promise<T | undefined> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 })
  redis.on('error', () => {})
  try {
    await redis.connect()
    return await work(redis)
  } catch {
    return undefined
  } finally {
    redis.disconnect()
  }
}

const answers = async (port: number) => (await onNode(port, (r) => r.ping())) === 'PONG'
const clusterOk = async (port: number) =>
  (await onNode(port, (r) => r.call('CLUSTER', 'INFO') as Promise<string>))?.includes('cluster_state:ok') ??
  false
/** The port of the master of every slot range, as one node maps them; undefined when it does not answer. */
const slotMasters = async (port: number) =>
  (
    await onNode(port, (r) => r.call('CLUSTER', 'SLOTS') as Promise<[number, number, [string, number]][]>)
  )?.map((range) => Number(range[2][1]))
/** True when this node sees a replica for every slot range and, if it is a replica, its link is up. */
const replicated = async (port: number) => {
  const ranges = await onNode(port, (r) => r.call('CLUSTER', 'SLOTS') as Promise<unknown[][]>)
  const role = await onNode(port, (r) => r.role() as Promise<unknown[]>)
  if (!ranges || !role) return false
  return ranges.every((range) => range.length >= 4) && (role[0] !== 'slave' || role[3] === 'connected')
}
const roleOf = async (port: number) => (await onNode(port, (r) => r.role() as Promise<unknown[]>))?.[0]

/** One Redis deployment a suite runs on: its REDIS_URL, whether it is a cluster, a free key prefix. */
export type RedisDeployment = {
  name: string
  skip: string | undefined
  start(): Promise<{ url: string; cluster: boolean; prefix: string; stop(): Promise<void> }>
}

/** Every Redis deployment the suites run on: one server (REDIS_TEST_URL), and a private Redis Cluster. */
export async function redisDeployments(): Promise<RedisDeployment[]> {
  const single = await redisBackend()
  return [
    {
      name: 'Redis',
      skip: single.skip,
      start: async () => ({
        url: single.url,
        cluster: false,
        prefix: single.prefix,
        stop: () => single.cleanup(),
      }),
    },
    {
      name: 'Redis Cluster (3 masters, 3 replicas)',
      skip: ownRedisSkip(),
      start: async () => {
        const cluster = await startOwnRedisCluster()
        return { url: cluster.url, cluster: true, prefix: 'allot_t:', stop: () => cluster.close() }
      },
    },
  ]
}
