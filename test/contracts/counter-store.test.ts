import { after, before, describe } from 'node:test'
import { parseDatabaseUrl } from '../../src/config/config.js'
import { openDatabase, type SqlDatabase } from '../../src/infra/database/database.js'
import { migrateToLatest } from '../../src/infra/database/migrator.js'
import { createSqlCounterRepository } from '../../src/repositories/sql-counter.repository.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { counterStoreContract } from './counter-store.contract.js'

for (const backend of await sqlBackends()) {
  describe(`counter store contract: ${backend.name}`, { skip: backend.skip }, () => {
    let database: SqlDatabase
    let store: ReturnType<typeof createSqlCounterRepository>
    let now = Date.UTC(2026, 10, 25)
    before(async () => {
      database = openDatabase(parseDatabaseUrl(await backend.createDatabaseUrl(), 10))
      await migrateToLatest(database.db)
      store = createSqlCounterRepository(database.db, database.dialect, () => now)
    })
    after(async () => {
      await database?.close()
      await backend.cleanup()
    })
    counterStoreContract(() => store, {
      now: () => now,
      advance: (ms) => {
        now += ms
      },
    })
  })
}
