import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { type Static, Type } from '@sinclair/typebox'
import { envSchema } from 'env-schema'

/** Every environment variable Allot reads, with its default. The README's table mirrors this schema. */
const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port to listen on' }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0', description: 'interface to bind' }),
  DATABASE_URL: Type.String({
    pattern: '^(sqlite:|mysql://)',
    default: 'sqlite:./data/allot.sqlite',
    description: 'sqlite:<file> (embedded) or mysql://user:pass@host:port/db',
  }),
  DB_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  DB_TIMEOUT_MS: Type.Integer({
    minimum: 10,
    maximum: 600_000,
    default: 1000,
    description: 'MySQL: longest wait for a connection, and longest query (migrations excepted)',
  }),
  DB_QUEUE_LIMIT: Type.Integer({
    minimum: 1,
    maximum: 100_000,
    default: 100,
    description: 'MySQL: queries waiting for a free connection beyond this fail at once',
  }),
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 16, description: 'bearer token for /admin/' })),
  PAYLOAD_SECRET: Type.Optional(Type.String({ minLength: 32, description: 'HMAC key for item payloads' })),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 262144 }),
  CATALOG_REFRESH_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 1000 }),
  COUNTER_REFRESH_MS: Type.Integer({
    minimum: 100,
    maximum: 3600000,
    default: 1000,
    description: 'how often CTR and budget counters made by other processes are reread',
  }),
  DEVICE_CACHE_SIZE: Type.Integer({
    minimum: 1,
    maximum: 10_000_000,
    default: 100_000,
    description: 'devices kept in the in-process cache',
  }),
  DEVICE_CACHE_TTL_MS: Type.Integer({
    minimum: 1000,
    maximum: 86_400_000,
    default: 300_000,
    description: 'longest a device stays in the in-process cache',
  }),
  ALLOCATION_DEADLINE_MS: Type.Integer({
    minimum: 1,
    maximum: 10000,
    default: 50,
    description: 'per-device reads slower than this are left out of an allocation',
  }),
  SEED_DEMO_DATA: Type.Optional(Type.Boolean()),
  MIGRATE_ON_START: Type.Optional(Type.Boolean()),
  TRUST_PROXY: Type.Boolean({ default: false }),
  RESPONSE_COMPRESSION: Type.Union([Type.Literal('off'), Type.Literal('gzip')], {
    default: 'off',
    description:
      'gzip: JSON answers of 1 KiB or more are gzipped (level 1) for clients that accept it; off behind nginx, which compresses at the edge',
  }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, maximum: 120000, default: 10000 }),
  HEAP_GROWTH_PERCENT: Type.Integer({
    minimum: 0,
    maximum: 300,
    default: 35,
    description:
      "how far V8 lets the JS heap grow past what its last full collection kept before the next one, in percent; 0 = V8's own choice (up to 300 % on a large machine)",
  }),
  OPS_PORT: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 9090,
    description: 'port of the internal listener (/metrics, /docs, /healthz, /readyz); 0 = any free port',
  }),
  OPS_HOST: Type.String({
    minLength: 1,
    default: '127.0.0.1',
    description: 'interface of the internal listener',
  }),
  WORKERS: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 256,
      description: 'serving processes; default: number of cores in production mode, 1 embedded',
    }),
  ),
  REDIS_URL: Type.Optional(
    Type.String({
      pattern: '^rediss?://[^,\\s]+(,rediss?://[^,\\s]+)*$',
      description:
        'redis://host:6379/0 — shared cache, lock, rate limits and invalidation; unset = in-process only. With REDIS_CLUSTER=true: one or more seed nodes, comma-separated',
    }),
  ),
  REDIS_CLUSTER: Type.Boolean({
    default: false,
    description: 'REDIS_URL names a Redis Cluster (its seed nodes): use the cluster client',
  }),
  REDIS_TIMEOUT_MS: Type.Integer({
    minimum: 10,
    maximum: 60_000,
    default: 250,
    description: 'longest a Redis command may take; also bounds connecting',
  }),
  REDIS_KEY_PREFIX: Type.String({
    pattern: '^[\\w:.-]{0,64}$',
    default: 'allot:',
    description: 'prefix of every Redis key and channel (letters, digits, _ : . -)',
  }),
  PROFILE_STORE: Type.Union([Type.Literal('sql'), Type.Literal('dynamodb')], {
    default: 'sql',
    description: 'where device profiles and activity live: sql (the DATABASE_URL database) or dynamodb',
  }),
  DYNAMODB_TABLE: Type.String({
    pattern: '^[\\w.-]{3,255}$',
    default: 'allot_device_profiles',
    description: 'DynamoDB table of device profiles and activity',
  }),
  DYNAMODB_REGION: Type.String({ minLength: 1, default: 'us-east-1', description: 'AWS region' }),
  DYNAMODB_ENDPOINT: Type.Optional(
    Type.String({
      pattern: '^https?://',
      description: 'DynamoDB endpoint override (DynamoDB Local, dynalite)',
    }),
  ),
  DYNAMODB_CLIENT: Type.Union([Type.Literal('http'), Type.Literal('sdk')], {
    default: 'http',
    description:
      "client of DynamoDB's data plane: http (Allot's lean SigV4 client over undici) or sdk (the AWS SDK v3)",
  }),
  DYNAMODB_TIMEOUT_MS: Type.Integer({
    minimum: 10,
    maximum: 60_000,
    default: 500,
    description: 'longest a DynamoDB call may take, retries and waiting for a socket included',
  }),
  DEVICE_LOADS_MAX: Type.Integer({
    minimum: 1,
    maximum: 100_000,
    default: 128,
    description: 'device records loading at once per process; a load past it fails at once',
  }),
  SHARED_CACHE_TTL_MS: Type.Integer({
    minimum: 1000,
    maximum: 7 * 86_400_000,
    default: 3_600_000,
    description: 'how long a device record stays in Redis (the second cache level)',
  }),
  UPSTREAM_DEADLINE_MS: Type.Integer({
    minimum: 1,
    maximum: 10_000,
    default: 80,
    description: 'longest an allocation waits for upstream ad networks',
  }),
  POSTBACK_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 60_000,
    default: 5_000,
    description: 'a publisher postback slower than this is retried',
  }),
  POSTBACK_POLL_MS: Type.Integer({
    minimum: 50,
    maximum: 600_000,
    default: 1_000,
    description: 'how often each process looks for due postbacks',
  }),
  EVENT_RATE_LIMIT_PER_MINUTE: Type.Integer({
    minimum: 0,
    maximum: 1_000_000,
    default: 120,
    description: 'events (unlock, click, rewards, impression) one device may send per minute; 0 = no limit',
  }),
  BUDGET_LEASE_MS: Type.Integer({
    minimum: 3_000,
    maximum: 600_000,
    default: 30_000,
    description:
      'how long a process holds a budget slice past its last report; a dead process keeps its unspent slice idle at most this plus 10 s',
  }),
  EVENT_RATE_LIMIT_PER_ADDRESS_PER_MINUTE: Type.Integer({
    minimum: 1,
    maximum: 100_000_000,
    default: 20_000,
    description:
      'event requests naming no device that one client address may send per minute (a working SDK always names one)',
  }),
  PUBLIC_BASE_URL: Type.Optional(
    Type.String({
      pattern: '^https?://[^\\s?#]+$',
      description:
        'public origin the SDK reaches Allot at (click and impression URLs start with it); default http://localhost:PORT',
    }),
  ),
  LEGACY_PAYLOAD_KEY: Type.Optional(
    Type.String({
      minLength: 16,
      maxLength: 16,
      description:
        "the legacy server's 16-byte payload key: its payloads are redeemable until LEGACY_PAYLOAD_UNTIL",
    }),
  ),
  LEGACY_PAYLOAD_UNTIL: Type.Optional(
    Type.String({
      description:
        'ISO 8601 instant after which legacy payloads are refused (required with LEGACY_PAYLOAD_KEY)',
    }),
  ),
  DAILY_COUNTER_TTL_SECONDS: Type.Integer({
    minimum: 86_400,
    maximum: 90 * 86_400,
    default: 3 * 86_400,
    description: 'how long per-day impression/click counters are kept',
  }),
  REPORT_FLUSH_MS: Type.Integer({
    minimum: 100,
    maximum: 600_000,
    default: 5_000,
    description:
      'how often each process writes what allocations taught it: report counters, devices seen (reach)',
  }),
  REACH_SAMPLE_SIZE: Type.Integer({
    minimum: 1_000,
    maximum: 10_000_000,
    default: 262_144,
    description:
      'devices in each process’s reach sample (about 90 bytes each); more = exact to a larger population',
  }),
  REACH_REFRESH_MS: Type.Integer({
    minimum: 1_000,
    maximum: 86_400_000,
    default: 600_000,
    description: 'how often the reach sample is rebuilt from the profile store (devices other processes saw)',
  }),
  FLEET_SNAPSHOT_MS: Type.Integer({
    minimum: 100,
    maximum: 60_000,
    default: 1_000,
    description:
      'how often each process publishes its live figures for the fleet view (Redis, else SQL); ignored after 5 periods',
  }),
})
type Env = Static<typeof EnvSchema>

export type DatabaseConfig =
  | { readonly dialect: 'sqlite'; readonly file: string }
  | { readonly dialect: 'mysql'; readonly url: string; readonly poolSize: number }

/** Validated, frozen configuration handed down from the composition root. */
export type Config = Readonly<{
  port: number
  host: string
  mode: 'embedded' | 'production'
  database: DatabaseConfig
  /** MySQL pool limits on the serving path (migrations run without them). */
  databaseLimits: Readonly<{ timeoutMs: number; queueLimit: number }>
  ops: Readonly<{ port: number; host: string }>
  adminToken: string
  payloadSecret: string
  generatedSecrets: boolean
  logLevel: string
  bodyLimitBytes: number
  catalogRefreshMs: number
  counterRefreshMs: number
  allocationDeadlineMs: number
  deviceCacheSize: number
  deviceCacheTtlMs: number
  seedDemoData: boolean
  migrateOnStart: boolean
  trustProxy: boolean
  /** Who compresses JSON answers: nginx at the edge (`off`), or Allot itself when it runs without the edge. */
  responseCompression: 'off' | 'gzip'
  shutdownGraceMs: number
  /** V8's heap growing factor, in percent past the live heap (0: V8 picks it). */
  heapGrowthPercent: number
  workers: number
  /** `urls`: one server, or a cluster's seed nodes (`cluster`). */
  redis:
    | Readonly<{ urls: readonly string[]; cluster: boolean; keyPrefix: string; timeoutMs: number }>
    | undefined
  profileStore: 'sql' | 'dynamodb'
  dynamo: Readonly<{
    table: string
    region: string
    endpoint: string | undefined
    timeoutMs: number
    client: 'http' | 'sdk'
  }>
  deviceLoadsMax: number
  dailyCounterTtlSeconds: number
  sharedCacheTtlMs: number
  postbackTimeoutMs: number
  upstreamDeadlineMs: number
  postbackPollMs: number
  eventRateLimitPerMinute: number
  /** How long a budget lease lasts past its holder's last report. */
  budgetLeaseMs: number
  /** Event requests that name no device, per client address and minute. */
  eventRateLimitPerAddressPerMinute: number
  reportFlushMs: number
  reachSampleSize: number
  reachRefreshMs: number
  /** How often each process publishes its live figures for the fleet view. */
  fleetSnapshotMs: number
  /** Origin of the click and impression URLs handed to SDKs, without a trailing slash. */
  publicBaseUrl: string
  /** The legacy server's payloads, redeemable during the cut-over (undefined: not accepted). */
  legacyPayloads: Readonly<{ key: string; until: number }> | undefined
}>

/** A configuration problem; the message names the variable and what it expects. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Reads and validates the environment once; throws ConfigError naming the bad variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const env = parseEnv(source)
  const database = parseDatabaseUrl(env.DATABASE_URL, env.DB_POOL_SIZE)
  const mode = database.dialect === 'sqlite' ? 'embedded' : 'production'
  const secrets = resolveSecrets(env, database, mode)
  return Object.freeze({
    port: env.PORT,
    host: env.HOST,
    mode,
    database: Object.freeze(database),
    databaseLimits: Object.freeze({ timeoutMs: env.DB_TIMEOUT_MS, queueLimit: env.DB_QUEUE_LIMIT }),
    ops: Object.freeze({ port: env.OPS_PORT, host: env.OPS_HOST }),
    adminToken: secrets.adminToken,
    payloadSecret: secrets.payloadSecret,
    generatedSecrets: secrets.generated,
    logLevel: env.LOG_LEVEL,
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    catalogRefreshMs: env.CATALOG_REFRESH_MS,
    counterRefreshMs: env.COUNTER_REFRESH_MS,
    allocationDeadlineMs: env.ALLOCATION_DEADLINE_MS,
    deviceCacheSize: env.DEVICE_CACHE_SIZE,
    deviceCacheTtlMs: env.DEVICE_CACHE_TTL_MS,
    seedDemoData: env.SEED_DEMO_DATA ?? mode === 'embedded',
    migrateOnStart: env.MIGRATE_ON_START ?? mode === 'embedded',
    trustProxy: env.TRUST_PROXY,
    responseCompression: env.RESPONSE_COMPRESSION,
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    heapGrowthPercent: env.HEAP_GROWTH_PERCENT,
    // Embedded counters live in one process, so the embedded default runs one unless told otherwise.
    workers: env.WORKERS ?? (mode === 'production' ? availableParallelism() : 1),
    redis: env.REDIS_URL
      ? Object.freeze({
          urls: Object.freeze(env.REDIS_URL.split(',')),
          cluster: env.REDIS_CLUSTER,
          keyPrefix: env.REDIS_KEY_PREFIX,
          timeoutMs: env.REDIS_TIMEOUT_MS,
        })
      : undefined,
    profileStore: env.PROFILE_STORE,
    dynamo: Object.freeze({
      table: env.DYNAMODB_TABLE,
      region: env.DYNAMODB_REGION,
      endpoint: env.DYNAMODB_ENDPOINT,
      timeoutMs: env.DYNAMODB_TIMEOUT_MS,
      client: env.DYNAMODB_CLIENT,
    }),
    deviceLoadsMax: env.DEVICE_LOADS_MAX,
    dailyCounterTtlSeconds: env.DAILY_COUNTER_TTL_SECONDS,
    sharedCacheTtlMs: env.SHARED_CACHE_TTL_MS,
    postbackTimeoutMs: env.POSTBACK_TIMEOUT_MS,
    upstreamDeadlineMs: env.UPSTREAM_DEADLINE_MS,
    postbackPollMs: env.POSTBACK_POLL_MS,
    eventRateLimitPerMinute: env.EVENT_RATE_LIMIT_PER_MINUTE,
    budgetLeaseMs: env.BUDGET_LEASE_MS,
    eventRateLimitPerAddressPerMinute: env.EVENT_RATE_LIMIT_PER_ADDRESS_PER_MINUTE,
    reportFlushMs: env.REPORT_FLUSH_MS,
    reachSampleSize: env.REACH_SAMPLE_SIZE,
    reachRefreshMs: env.REACH_REFRESH_MS,
    fleetSnapshotMs: env.FLEET_SNAPSHOT_MS,
    publicBaseUrl: (env.PUBLIC_BASE_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, ''),
    legacyPayloads: legacyPayloads(env),
  })
}

function legacyPayloads(env: Env): Config['legacyPayloads'] {
  if (!env.LEGACY_PAYLOAD_KEY && !env.LEGACY_PAYLOAD_UNTIL) return undefined
  if (!env.LEGACY_PAYLOAD_KEY || !env.LEGACY_PAYLOAD_UNTIL)
    throw new ConfigError('invalid configuration: LEGACY_PAYLOAD_KEY and LEGACY_PAYLOAD_UNTIL go together')
  const until = Date.parse(env.LEGACY_PAYLOAD_UNTIL)
  if (Number.isNaN(until))
    throw new ConfigError('invalid configuration: LEGACY_PAYLOAD_UNTIL is not a date-time')
  return Object.freeze({ key: env.LEGACY_PAYLOAD_KEY, until })
}

function parseEnv(source: NodeJS.ProcessEnv): Env {
  // Empty strings mean "unset", as they do in most shells' `VAR= cmd`.
  const data: Record<string, string> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key]
    if (value !== undefined && value !== '') data[key] = value
  }
  try {
    return envSchema<Env>({ schema: EnvSchema, data, dotenv: false })
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${describeEnvError(err)}`)
  }
}

function describeEnvError(err: unknown): string {
  const errors = (err as { errors?: { instancePath: string; message?: string; params?: unknown }[] }).errors
  const first = errors?.[0]
  if (!first) return (err as Error).message
  const name = first.instancePath.replace(/^\//, '')
  const property = EnvSchema.properties[name as keyof Env] as { description?: string } | undefined
  const hint = property?.description ? ` (${property.description})` : ''
  return `${name} ${first.message}${hint}`
}

/** Parses DATABASE_URL into a dialect and its connection settings. */
export function parseDatabaseUrl(url: string, poolSize: number): DatabaseConfig {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\//, '')
    if (!file) throw new ConfigError('invalid configuration: DATABASE_URL needs a file after sqlite:')
    return { dialect: 'sqlite', file }
  }
  try {
    const parsed = new URL(url)
    if (!parsed.hostname || parsed.pathname.length < 2) throw new Error('no host or database')
  } catch {
    throw new ConfigError('invalid configuration: DATABASE_URL must look like mysql://user:pass@host:3306/db')
  }
  return { dialect: 'mysql', url, poolSize }
}

type Secrets = { adminToken: string; payloadSecret: string; generated: boolean }

function resolveSecrets(env: Env, database: DatabaseConfig, mode: Config['mode']): Secrets {
  if (env.ADMIN_TOKEN && env.PAYLOAD_SECRET) {
    return { adminToken: env.ADMIN_TOKEN, payloadSecret: env.PAYLOAD_SECRET, generated: false }
  }
  if (mode === 'production') {
    const missing = env.ADMIN_TOKEN ? 'PAYLOAD_SECRET' : 'ADMIN_TOKEN'
    throw new ConfigError(
      `invalid configuration: ${missing} is required in production mode (DATABASE_URL=mysql://…); ` +
        (missing === 'ADMIN_TOKEN' ? 'at least 16 characters' : 'at least 32 characters'),
    )
  }
  // Embedded mode: generate once and keep them beside the SQLite file so payloads survive restarts.
  const stored = database.dialect === 'sqlite' ? loadOrCreateEmbeddedSecrets(database.file) : undefined
  const fresh = stored ?? { adminToken: randomToken(), payloadSecret: randomToken() }
  return {
    adminToken: env.ADMIN_TOKEN ?? fresh.adminToken,
    payloadSecret: env.PAYLOAD_SECRET ?? fresh.payloadSecret,
    generated: true,
  }
}

function loadOrCreateEmbeddedSecrets(sqliteFile: string): { adminToken: string; payloadSecret: string } {
  if (sqliteFile === ':memory:') return { adminToken: randomToken(), payloadSecret: randomToken() }
  const file = join(dirname(sqliteFile), 'allot-secrets.json')
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'))
  const secrets = { adminToken: randomToken(), payloadSecret: randomToken() }
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 })
  chmodSync(file, 0o600)
  return secrets
}

function randomToken(): string {
  return randomBytes(32).toString('base64url')
}
