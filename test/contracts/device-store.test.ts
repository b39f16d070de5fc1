import { after, before, describe } from 'node:test'
import { parseDatabaseUrl } from '../../src/config/config.js'
import { openDatabase, type SqlDatabase } from '../../src/infra/database/database.js'
import { migrateToLatest } from '../../src/infra/database/migrator.js'
import { createSqlDeviceRepository } from '../../src/repositories/sql-device.repository.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { type DeviceStore, deviceStoreContract } from './device-store.contract.js'

for (const backend of await sqlBackends()) {
  describe(`device store contract: SQL on ${backend.name}`, { skip: backend.skip }, () => {
    let database: SqlDatabase
    let store: DeviceStore
    before(async () => {
      const url = await backend.createDatabaseUrl()
      database = openDatabase(parseDatabaseUrl(url, 5))
      await migrateToLatest(database.db)
      store = createSqlDeviceRepository(database.db, database.dialect)
    })
    after(async () => {
      await database?.close()
      await backend.cleanup()
    })
    deviceStoreContract(() => store)
  })
}
