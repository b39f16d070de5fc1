import type { Config } from '../config/config.js'
import { createCampaignRepository } from '../repositories/campaign.repository.js'
import { createCategoryRepository, createChannelRepository } from '../repositories/content.repository.js'
import { createContentConfigRepository } from '../repositories/content-config.repository.js'
import { createInstalledAppsRepository } from '../repositories/installed-apps.repository.js'
import { createReportCounterRepository } from '../repositories/report-counter.repository.js'
import { createRewardRepository } from '../repositories/reward.repository.js'
import { createSqlCounterRepository } from '../repositories/sql-counter.repository.js'
import { createSqlDeviceRepository } from '../repositories/sql-device.repository.js'
import { createUnitRepository } from '../repositories/unit.repository.js'
import type { HousekeepingTask } from '../services/housekeeping.service.js'
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
        dynamo.doc,
        config.dynamo.table,
        config.dynamo.timeoutMs,
      )
    : sqlDevices
  const counters = createSqlCounterRepository(db, dialect, clock)
  // What expires in SQL; DynamoDB drops expired activity itself (its TTL attribute).
  const purges: Record<string, HousekeepingTask> = {
    'delivery counters': (now) => counters.purgeExpired(now),
  }
  if (!dynamo) purges['device activity'] = (now) => sqlDevices.purgeExpiredActivity(now)

  return {
    units: createUnitRepository(db, clock),
    campaigns: createCampaignRepository(db, clock),
    categories: createCategoryRepository(db, clock),
    channels: createChannelRepository(db, clock),
    contentConfigs: createContentConfigRepository(db, dialect, clock),
    // Delivery counters decide budgets (money): the SQL database is their store of record in every mode.
    counters,
    reportCounters: createReportCounterRepository(db, dialect, clock),
    rewards: createRewardRepository(db, dialect),
    installedApps: createInstalledAppsRepository(database),
    devices,
    purges,
    shared: redis && (await sharedDeviceData(redis, config)),
  }
}

/** Redis's device-side adapters: the device cache's second level and the per-device lock. */
async function sharedDeviceData(redis: NonNullable<Infrastructure['redis']>, config: Config) {
  const [{ createRedisDeviceCache }, { createRedisDeviceLock }] = await Promise.all([
    import('../repositories/redis-device-cache.repository.js'),
    import('../repositories/redis-device-lock.repository.js'),
  ])
  const { client } = redis.connection
  return {
    deviceCache: createRedisDeviceCache(client, redis.prefix, config.sharedCacheTtlMs),
    deviceLock: createRedisDeviceLock(client, redis.prefix),
  }
}
