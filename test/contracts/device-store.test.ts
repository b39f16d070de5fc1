import { after, before, describe } from 'node:test'
import { parseDatabaseUrl } from '../../src/config/config.js'
import { openDatabase, type SqlDatabase } from '../../src/infra/database/database.js'
import { migrateToLatest } from '../../src/infra/database/migrator.js'
import { createDynamoDeviceRepository } from '../../src/repositories/dynamodb-device.repository.js'
import { createSqlDeviceRepository } from '../../src/repositories/sql-device.repository.js'
import { startDynamo, type TestDynamo } from '../helpers/dynamo.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { type DeviceStore, deviceStoreContract } from './device-store.contract.js'
import { seenStoreContract } from './seen-store.contract.js'

for (const backend of await sqlBackends()) {
  describe(`device store contract: SQL on ${backend.name}`, { skip: backend.skip }, () => {
    let database: SqlDatabase
    let store: DeviceStore
    before(async () => {
      const url = await backend.createDatabaseUrl()
      database = openDatabase(parseDatabaseUrl(url, 5))
      await migrateToLatest(database.db)
      store = createSqlDeviceRepository(database)
    })
    after(async () => {
      await database?.close()
      await backend.cleanup()
    })
    deviceStoreContract(() => store)
    seenStoreContract(() => store)
  })
}

for (const [client, through] of [
  ['http', "Allot's lean HTTP client"],
  ['sdk', 'the AWS SDK v3'],
] as const) {
  describe(`device store contract: DynamoDB (dynalite through ${through})`, () => {
    let dynamo: TestDynamo
    let store: DeviceStore
    before(async () => {
      dynamo = await startDynamo(undefined, client)
      store = createDynamoDeviceRepository(dynamo.connection.transport, dynamo.table)
    })
    after(async () => {
      await dynamo?.close()
    })
    deviceStoreContract(() => store)
    seenStoreContract(() => store)
  })
}
