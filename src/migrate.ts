import { seedDemoData } from './composition/demo-data.js'
import { ConfigError, loadConfig } from './config/config.js'
import { openDatabase } from './infra/database/database.js'
import { migrateToLatest } from './infra/database/migrator.js'
import { ensureDeviceTable, openDynamo } from './infra/dynamodb/dynamodb.js'
import { createCampaignRepository } from './repositories/campaign.repository.js'
import { createCategoryRepository, createChannelRepository } from './repositories/content.repository.js'
import { prepareDeviceTable } from './repositories/dynamodb-device.repository.js'
import { createUnitRepository } from './repositories/unit.repository.js'
import { createAdminService } from './services/admin.service.js'

/**
 * `npm run migrate`: applies pending migrations to DATABASE_URL, creates the DynamoDB table when
 * PROFILE_STORE=dynamodb (with `--mark-devices`, marks the devices of a table from before device marks), seeds the demo catalog into an empty database when SEED_DEMO_DATA=true, and exits.
 */
async function main(): Promise<void> {
  const config = loadConfig()
  const database = openDatabase(config.database)
  try {
    const applied = await migrateToLatest(database.db)
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema is up to date')
    if (config.seedDemoData) {
      const now = Date.now()
      const admin = createAdminService({
        units: createUnitRepository(database.db, Date.now),
        campaigns: createCampaignRepository(database.db, Date.now),
        categories: createCategoryRepository(database.db, Date.now),
        channels: createChannelRepository(database.db, Date.now),
        onCatalogChange: async () => {},
      })
      console.log(
        (await seedDemoData(admin, now)) ? 'seeded the demo catalog' : 'catalog not empty: not seeded',
      )
    }
  } finally {
    await database.close()
  }
  if (config.profileStore === 'dynamodb') {
    const dynamo = openDynamo({ region: config.dynamo.region, endpoint: config.dynamo.endpoint })
    try {
      const table = await ensureDeviceTable(dynamo.client, config.dynamo.table)
      const marked = await prepareDeviceTable(dynamo.transport, config.dynamo.table, {
        created: table === 'created',
        markExisting: process.argv.includes('--mark-devices'),
      })
      console.log(`DynamoDB table ${config.dynamo.table}: ${table}; ${marksSaid(marked)}`)
    } finally {
      await dynamo.close()
    }
  }
}

function marksSaid(marked: number | 'already' | 'not marked'): string {
  if (marked === 'already') return 'device marks: in use'
  if (marked === 'not marked')
    return 'device marks: not in use yet (once every instance runs this release: npm run migrate -- --mark-devices)'
  return `device marks: in use (${marked} ${marked === 1 ? 'device' : 'devices'} marked)`
}

main().catch((err: unknown) => {
  console.error(`allot migrate: ${err instanceof ConfigError ? err.message : (err as Error).message}`)
  process.exit(1)
})
