import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { sql } from 'kysely'
import { parseDatabaseUrl } from '../src/config/config.js'
import { openDatabase } from '../src/infra/database/database.js'
import { migrateToLatest } from '../src/infra/database/migrator.js'
import { sqlBackends } from './helpers/sql-backends.js'

for (const backend of await sqlBackends()) {
  describe(`migrations on ${backend.name}`, { skip: backend.skip }, () => {
    after(() => backend.cleanup())

    test('migrate to latest creates every table once and a second run changes nothing', async () => {
      const database = openDatabase(parseDatabaseUrl(await backend.createDatabaseUrl(), 2))
      try {
        const first = await migrateToLatest(database.db)
        assert.ok(first.includes('0001-initial'))
        assert.deepEqual(await migrateToLatest(database.db), [])
        const tables = (await database.db.introspection.getTables()).map((t) => t.name)
        for (const table of [
          'units',
          'campaigns',
          'categories',
          'channels',
          'device_content_configs',
          'catalog_state',
          'device_profiles',
          'device_registrations',
          'device_activity',
          'reward_ledger',
          'postback_outbox',
        ]) {
          assert.ok(tables.includes(table), `${table} exists`)
        }
      } finally {
        await database.close()
      }
    })

    test('text columns keep 4-byte UTF-8 and Korean intact', async () => {
      const database = openDatabase(parseDatabaseUrl(await backend.createDatabaseUrl(), 2))
      try {
        await migrateToLatest(database.db)
        const text = '서울특별시 관악구 🎉'
        await database.db
          .insertInto('categories')
          .values({ id: 'k', name: text, icon_url: '', sort_order: 0 })
          .execute()
        const row = await database.db.selectFrom('categories').select('name').executeTakeFirstOrThrow()
        assert.equal(row.name, text)
        const one = await sql<{ v: number }>`select 1 as v`.execute(database.db)
        assert.equal(Number(one.rows[0]?.v), 1)
      } finally {
        await database.close()
      }
    })
  })
}
