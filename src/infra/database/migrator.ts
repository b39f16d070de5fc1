import { type Kysely, type Migration, Migrator } from 'kysely'
import * as initial from './migrations/0001-initial.js'
import * as deviceData from './migrations/0002-device-data.js'
import * as rewards from './migrations/0003-rewards.js'
import * as adSources from './migrations/0004-ad-sources.js'
import * as sdkV1 from './migrations/0005-sdk-v1.js'
import * as opaqueContentConfig from './migrations/0006-opaque-content-config.js'
import * as durableCounters from './migrations/0007-durable-counters.js'
import * as rewardHourLimits from './migrations/0008-reward-hour-limits.js'
import * as insight from './migrations/0009-insight.js'
import * as countedEvents from './migrations/0010-counted-events.js'
import * as budgetLeases from './migrations/0011-budget-leases.js'
import * as reportCounterShards from './migrations/0012-report-counter-shards.js'
import * as fleetInstances from './migrations/0013-fleet-instances.js'
import * as grantProcedure from './migrations/0014-grant-procedure.js'
import * as grantBatch from './migrations/0015-grant-batch.js'
import type { Database } from './schema.js'

// Listed explicitly (not read from disk) so they work the same under tsx, in tests and in the image.
const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-device-data': deviceData,
  '0003-rewards': rewards,
  '0004-ad-sources': adSources,
  '0005-sdk-v1': sdkV1,
  '0006-opaque-content-config': opaqueContentConfig,
  '0007-durable-counters': durableCounters,
  '0008-reward-hour-limits': rewardHourLimits,
  '0009-insight': insight,
  '0010-counted-events': countedEvents,
  '0011-budget-leases': budgetLeases,
  '0012-report-counter-shards': reportCounterShards,
  '0013-fleet-instances': fleetInstances,
  '0014-grant-procedure': grantProcedure,
  '0015-grant-batch': grantBatch,
}

/** Brings the schema to the latest migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } })
  const { error, results } = await migrator.migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error) {
    const where = failed ? ` in ${failed.migrationName}` : ''
    throw new Error(`migration failed${where}: ${(error as Error).message ?? String(error)}`)
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
