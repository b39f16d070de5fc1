import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { parseDatabaseUrl } from '../../src/config/config.js'
import { openDatabase, type SqlDatabase } from '../../src/infra/database/database.js'
import { migrateToLatest } from '../../src/infra/database/migrator.js'
import { createBudgetLeaseRepository } from '../../src/repositories/budget-lease.repository.js'
import { sqlBackends } from '../helpers/sql-backends.js'

const NOW = Date.UTC(2026, 10, 25, 3)

for (const backend of await sqlBackends()) {
  describe(`budget pools and leases: ${backend.name}`, { skip: backend.skip }, () => {
    let database: SqlDatabase
    let store: ReturnType<typeof createBudgetLeaseRepository>
    let campaign = 100
    const pool = (limit: number) => ({ campaignId: campaign++, period: 't', limit })
    before(async () => {
      database = openDatabase(parseDatabaseUrl(await backend.createDatabaseUrl(), 10))
      await migrateToLatest(database.db)
      store = createBudgetLeaseRepository(database.db, database.dialect)
    })
    after(async () => {
      await database?.close()
      await backend.cleanup()
    })

    test('a slice is at most what was asked and at most a quarter of what is left (at least 1)', async () => {
      const p = pool(100)
      assert.equal(await store.lease('a', p, 10, NOW, NOW + 30_000), 10)
      assert.equal(await store.lease('a', p, 1000, NOW, NOW + 30_000), 23, '⌈90 / 4⌉')
      assert.equal(await store.committed(p.campaignId, 't'), 33)
      const small = pool(2)
      assert.equal(await store.lease('a', small, 5, NOW, NOW + 30_000), 1, '⌈2 / 4⌉ = 1')
      assert.equal(await store.lease('b', small, 5, NOW, NOW + 30_000), 1)
      assert.equal(await store.lease('c', small, 5, NOW, NOW + 30_000), 0, 'nothing left')
    })

    test('racing holders never commit past the limit, and every unit goes to exactly one', async () => {
      const p = pool(50)
      const grants = await Promise.all(
        Array.from({ length: 40 }, (_, i) => store.lease(`h${i % 4}`, p, 3, NOW, NOW + 30_000)),
      )
      let more = 1
      while (more > 0) more = await store.lease('late', p, 50, NOW, NOW + 30_000)
      assert.equal(await store.committed(p.campaignId, 't'), 50)
      assert.ok(grants.reduce((a, b) => a + b, 0) <= 50)
    })

    test('release gives back what was not consumed; a report records consumption and says which leases are gone', async () => {
      const p = pool(20)
      assert.equal(await store.lease('a', p, 4, NOW, NOW + 30_000), 4)
      const gone = await store.report(
        'a',
        [{ campaignId: p.campaignId, period: 't', consumed: 3 }],
        NOW + 60_000,
      )
      assert.deepEqual(gone, [])
      await store.release('a', [{ campaignId: p.campaignId, period: 't', consumed: 3 }], NOW)
      assert.equal(await store.committed(p.campaignId, 't'), 3, 'the unconsumed unit went back')
      const after = await store.report(
        'a',
        [{ campaignId: p.campaignId, period: 't', consumed: 3 }],
        NOW + 60_000,
      )
      assert.equal(after.length, 1, 'a released lease is gone')
    })

    test('a lapsed lease is reclaimed: what its holder reported consumed stays spent, the rest goes back', async () => {
      const p = pool(20)
      assert.equal(await store.lease('dead', p, 5, NOW, NOW + 30_000), 5)
      await store.report('dead', [{ campaignId: p.campaignId, period: 't', consumed: 2 }], NOW + 30_000)
      assert.equal(await store.reclaimLapsed(NOW + 29_000), 0, 'not lapsed yet')
      assert.ok((await store.reclaimLapsed(NOW + 31_000)) >= 1)
      assert.equal(await store.committed(p.campaignId, 't'), 2, 'the 2 consumed stay, 3 went back')
      assert.equal(
        await store.lease('alive', p, 18, NOW, NOW + 30_000),
        5,
        'what went back can be leased again',
      )
    })
  })
}
