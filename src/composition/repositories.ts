import type { Config } from '../config/config.js'
import { createBudgetLeaseRepository } from '../repositories/budget-lease.repository.js'
import { createCampaignRepository } from '../repositories/campaign.repository.js'
import { createCategoryRepository, createChannelRepository } from '../repositories/content.repository.js'
import { createContentConfigRepository } from '../repositories/content-config.repository.js'
import { createSqlFleetRepository } from '../repositories/fleet.repository.js'
import { createInstalledAppsRepository } from '../repositories/installed-apps.repository.js'
import { createReportCounterRepository } from '../repositories/report-counter.repository.js'
import { createRewardRepository } from '../repositories/reward.repository.js'
import { createSqlCounterRepository } from '../repositories/sql-counter.repository.js'
import { createSqlDeviceRepository } from '../repositories/sql-device.repository.js'
import { createUnitRepository } from '../repositories/unit.repository.js'
import type { Infrastructure } from './infrastructure.js'

export type Repositories = Awaited<ReturnType<typeof createRepositories>>

/**
 * Step 2: the adapters over those clients. The SQL database holds the catalog, money (delivery counters,
 * the reward ledger and its postback outbox) and reports in every mode; device profiles and activity live in
 * DynamoDB when PROFILE_STORE=dynamodb, else in SQL too; Redis adds the shared device cache and lock.
 */
export async function createRepositories(
  { database, redis, dynamo }: Infrastructure,
  config: Config,
  clock: () => number,
) {
  const { db, dialect } = database
  const sqlDevices = createSqlDeviceRepository(database)
  const devices: Omit<typeof sqlDevices, 'purgeExpiredActivity'> = dynamo
    ? (await import('../repositories/dynamodb-device.repository.js')).createDynamoDeviceRepository(
        dynamo.transport,
        config.dynamo.table,
        config.dynamo.timeoutMs,
      )
    : sqlDevices
  const counters = createSqlCounterRepository(db, dialect, clock)

  return {
    units: createUnitRepository(db, clock),
    campaigns: createCampaignRepository(db, clock),
    categories: createCategoryRepository(db, clock),
    channels: createChannelRepository(db, clock),
    contentConfigs: createContentConfigRepository(db, dialect, clock),
    // Delivery counters decide budgets (money): the SQL database is their store of record in every mode.
    counters,
    // Budgets are leased in slices from pools in the SQL database, their store of record.
    budgetLeases: createBudgetLeaseRepository(db, dialect),
    reportCounters: createReportCounterRepository(db, dialect, clock),
    rewards: createRewardRepository(database),
    installedApps: createInstalledAppsRepository(database),
    devices,
    /** Deletes expired activity from the SQL profile store; DynamoDB drops it itself (its TTL attribute). */
    purgeExpiredActivity: dynamo ? undefined : (now: number) => sqlDevices.purgeExpiredActivity(now),
    shared: redis && (await sharedDeviceData(redis, config)),
    /** Each instance's live figures for the fleet view: in Redis when configured, else in SQL. */
    fleet: redis
      ? (await import('../repositories/redis-fleet.repository.js')).createRedisFleetRepository(
          redis.connection.client,
          redis.prefix,
        )
      : createSqlFleetRepository(db, dialect),
  }
}

/** Redis's device-side adapters: the device cache's second level and the per-device lock. */
async function sharedDeviceData(redis: NonNullable<Infrastructure['redis']>, config: Config) {
  const [{ createRedisDeviceCache }, { createRedisDeviceLock }, { createRedisOnce }] = await Promise.all([
    import('../repositories/redis-device-cache.repository.js'),
    import('../repositories/redis-device-lock.repository.js'),
    import('../repositories/redis-once.repository.js'),
  ])
  const { client } = redis.connection
  return {
    deviceCache: createRedisDeviceCache(client, redis.prefix, config.sharedCacheTtlMs),
    deviceLock: createRedisDeviceLock(client, redis.prefix),
    once: createRedisOnce(client, redis.prefix),
  }
}
