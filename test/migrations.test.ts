import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { type Migration, Migrator, sql } from 'kysely'
import { parseDatabaseUrl } from '../src/config/config.js'
import { openDatabase } from '../src/infra/database/database.js'
import * as initial from '../src/infra/database/migrations/0001-initial.js'
import * as deviceData from '../src/infra/database/migrations/0002-device-data.js'
import * as rewards from '../src/infra/database/migrations/0003-rewards.js'
import * as adSources from '../src/infra/database/migrations/0004-ad-sources.js'
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
          'installed_apps',
          'fleet_instances',
        ]) {
          assert.ok(tables.includes(table), `${table} exists`)
        }
      } finally {
        await database.close()
      }
    })

    test('0006 turns the old JSON-list defaults into empty strings and keeps every other value', async () => {
      const database = openDatabase(parseDatabaseUrl(await backend.createDatabaseUrl(), 2))
      try {
        const before: Record<string, Migration> = {
          '0001-initial': initial,
          '0002-device-data': deviceData,
          '0003-rewards': rewards,
          '0004-ad-sources': adSources,
        }
        const migrator = new Migrator({ db: database.db, provider: { getMigrations: async () => before } })
        const { error } = await migrator.migrateToLatest()
        assert.equal(error, undefined)
        await database.db
          .insertInto('device_content_configs')
          .values([
            { device_id: 1, category: '[]', channel: '[]', campaign: '[]', updated_at: 5 },
            { device_id: 2, category: '["news"]', channel: '[]', campaign: '[7]', updated_at: 6 },
          ])
          .execute()
        assert.ok((await migrateToLatest(database.db)).includes('0006-opaque-content-config'))
        const rows = await database.db
          .selectFrom('device_content_configs')
          .select(['device_id', 'category', 'channel', 'campaign'])
          .orderBy('device_id')
          .execute()
        assert.deepEqual(
          rows.map((r) => ({ ...r, device_id: Number(r.device_id) })),
          [
            { device_id: 1, category: '', channel: '', campaign: '' },
            { device_id: 2, category: '["news"]', channel: '', campaign: '[7]' },
          ],
        )
      } finally {
        await database.close()
      }
    })

    test('installed package lists over 64 KiB fit (MySQL text would cut them off)', async () => {
      const database = openDatabase(parseDatabaseUrl(await backend.createDatabaseUrl(), 2))
      try {
        await migrateToLatest(database.db)
        const packages = Array.from({ length: 8000 }, (_, i) => `com.example.app${i}`).join(',')
        assert.ok(packages.length > 128 * 1024, `${packages.length} characters`)
        await database.db
          .insertInto('installed_apps')
          .values({ app_id: 419318955785795, ifa: 'a'.repeat(64), packages, updated_at: 1 })
          .execute()
        const row = await database.db.selectFrom('installed_apps').selectAll().executeTakeFirstOrThrow()
        assert.equal(row.packages, packages)
        assert.equal(Number(row.app_id), 419318955785795)
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
