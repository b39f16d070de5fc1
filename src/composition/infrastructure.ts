import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/config.js'
import { openDatabase, type SqlDatabase } from '../infra/database/database.js'
import { migrateToLatest } from '../infra/database/migrator.js'
import type { DynamoConnection } from '../infra/dynamodb/dynamodb.js'
import type { Channel } from '../infra/redis/pubsub.js'
import type { RedisConnection } from '../infra/redis/redis.js'
import type { DependencyCheck } from '../services/readiness.service.js'

/** The clients Allot talks through, opened once per process; each closes with the app. */
export type Infrastructure = {
  database: SqlDatabase
  /** Production: shared counters' rate limits, the device cache's second level, cross-instance messages. */
  redis: { connection: RedisConnection; prefix: string; devices: Channel; catalog: Channel } | undefined
  /** PROFILE_STORE=dynamodb: the profile store's client. */
  dynamo: DynamoConnection | undefined
  /** Each dependency's liveness, for /readyz: those Allot cannot serve without. */
  checks: Record<string, DependencyCheck>
  /** Those it serves without, degraded (Redis). */
  optionalChecks: Record<string, DependencyCheck>
}

/**
 * Step 1: opens the SQL database (migrating it when MIGRATE_ON_START), Redis when REDIS_URL is set and the
 * DynamoDB client when PROFILE_STORE=dynamodb. Production-only clients load on demand: the embedded default
 * never pays for ioredis or the AWS SDK.
 */
export async function openInfrastructure(app: FastifyInstance, config: Config): Promise<Infrastructure> {
  const database = openDatabase(config.database, config.databaseLimits)
  app.addHook('onClose', () => database.close())
  if (config.migrateOnStart) await migrate(config, database)
  const checks: Record<string, DependencyCheck> = { database: () => database.ping() }
  const optionalChecks: Record<string, DependencyCheck> = {}

  let redis: Infrastructure['redis']
  if (config.redis) {
    const [{ openRedis }, { redisChannel }] = await Promise.all([
      import('../infra/redis/redis.js'),
      import('../infra/redis/pubsub.js'),
    ])
    const connection = await openRedis(config.redis)
    app.addHook('onClose', () => connection.close())
    optionalChecks.redis = () => connection.ping()
    const prefix = config.redis.keyPrefix
    redis = {
      connection,
      prefix,
      devices: redisChannel(connection, `${prefix}devices`),
      catalog: redisChannel(connection, `${prefix}catalog`, { publishTries: 3 }),
    }
  }

  let dynamo: DynamoConnection | undefined
  if (config.profileStore === 'dynamodb') {
    const { openDynamo, ensureDeviceTable, pingDeviceTable } = await import('../infra/dynamodb/dynamodb.js')
    const { region, endpoint, table, timeoutMs, client } = config.dynamo
    const connection = openDynamo({ region, endpoint, timeoutMs, client })
    app.addHook('onClose', () => connection.close())
    if (config.migrateOnStart) {
      const created = (await ensureDeviceTable(connection.client, table)) === 'created'
      const { prepareDeviceTable } = await import('../repositories/dynamodb-device.repository.js')
      await prepareDeviceTable(connection.transport, table, { created })
    }
    checks.dynamodb = () => pingDeviceTable(connection.transport, table, timeoutMs)
    dynamo = connection
  }
  return { database, redis, dynamo, checks, optionalChecks }
}

/**
 * Migrations may run long statements: on MySQL they get their own pool without the serving path's time
 * limits (SQLite has none, and a `:memory:` database exists only on its own connection).
 */
async function migrate(config: Config, database: SqlDatabase): Promise<void> {
  if (config.database.dialect === 'sqlite') {
    await migrateToLatest(database.db)
    return
  }
  const migrating = openDatabase(config.database)
  try {
    await migrateToLatest(migrating.db)
  } finally {
    await migrating.close()
  }
}
