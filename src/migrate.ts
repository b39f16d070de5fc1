import { ConfigError, loadConfig } from './config/config.js'
import { openDatabase } from './infra/database/database.js'
import { migrateToLatest } from './infra/database/migrator.js'
import { ensureDeviceTable, openDynamo } from './infra/dynamodb/dynamodb.js'

/** `npm run migrate`: applies pending migrations to DATABASE_URL (and creates the DynamoDB table) and exits. */
async function main(): Promise<void> {
  const config = loadConfig()
  const database = openDatabase(config.database)
  try {
    const applied = await migrateToLatest(database.db)
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema is up to date')
  } finally {
    await database.close()
  }
  if (config.profileStore === 'dynamodb') {
    const dynamo = openDynamo({ region: config.dynamo.region, endpoint: config.dynamo.endpoint })
    try {
      const table = await ensureDeviceTable(dynamo.client, config.dynamo.table)
      console.log(`DynamoDB table ${config.dynamo.table}: ${table}`)
    } finally {
      dynamo.close()
    }
  }
}

main().catch((err: unknown) => {
  console.error(`allot migrate: ${err instanceof ConfigError ? err.message : (err as Error).message}`)
  process.exit(1)
})
