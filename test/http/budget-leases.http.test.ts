import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { demoPhone } from '../helpers/sdk.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'
import type { V1ItemType } from '../helpers/v1-wire.js'

/*
 * Budgets leased in slices (issue #20): one hot campaign receiving every event on two instances at once
 * still delivers exactly its budget, and what a stopping instance did not spend goes back to the others.
 */

const iso = (ms: number) => new Date(ms).toISOString()

// Two instances share a store of record over the network: MariaDB. (Two SQLite connections in one process
// cannot: better-sqlite3 waits for a lock synchronously, blocking the very process that holds it.)
for (const backend of (await sqlBackends()).filter((b) => b.name === 'mariadb')) {
  describe(`a hot campaign's budget on two instances: ${backend.name}`, { skip: backend.skip }, () => {
    let a: TestApp
    let b: TestApp
    before(async () => {
      const url = await backend.createDatabaseUrl()
      a = await startTestApp(url, { seed: true })
      b = await startTestApp(url, { seed: false })
    })
    after(async () => {
      await Promise.all([a?.close(), b?.close()])
      await backend.cleanup()
    })

    const phone = demoPhone
    const budgeted = async (name: string, budget: Record<string, number | string>) => {
      const res = await a.admin('POST', '/admin/campaigns', {
        name,
        type: 'I',
        first_display_priority: 200,
        start_date: iso(Date.now() - 60_000),
        end_date: iso(Date.now() + 86_400_000),
        click_url: `https://advertiser.test/${name}`,
        ...budget,
      })
      assert.equal(res.statusCode, 201, res.body)
      // Instance b learns of it at its next catalog poll.
      for (let i = 0; i < 100; i++) {
        if ((await phone(b, 1).pool()).some((c) => c.name === name)) return
        await new Promise((r) => setTimeout(r, 50))
      }
      assert.fail(`${name} reached instance b`)
    }
    const itemsFor = async (name: string, devices: number[]) => {
      const items: [number, V1ItemType][] = []
      for (const d of devices) {
        const item = (await phone(a, d).pool()).find((c) => c.name === name)
        if (item) items.push([d, item])
      }
      return items
    }

    test('120 racing beacons on two instances count exactly the budget of 40', async () => {
      await budgeted('hot-40', { budget_type: 'impression', budget_total: 40 })
      const items = await itemsFor(
        'hot-40',
        Array.from({ length: 120 }, (_, i) => 30_000 + i),
      )
      assert.ok(items.length >= 60, `allocated to ${items.length} devices`)
      const outcomes = await Promise.all(
        items.map(([d, item], i) =>
          phone(i % 2 ? a : b, d)
            .impress(item)
            .then((r) => r.headers['x-allot-counted'] ?? `${r.statusCode} ${r.body}`),
        ),
      )
      assert.equal(
        outcomes.filter((o) => o === 'counted').length,
        Math.min(40, items.length),
        String(outcomes),
      )
      assert.ok(
        outcomes.every((o) => o === 'counted' || o === 'budget'),
        String(outcomes),
      )
    })

    test('what a stopping instance leased and did not spend goes back: the other serves the whole budget', async () => {
      await budgeted('given-back', { budget_type: 'impression', budget_total: 30 })
      const items = await itemsFor(
        'given-back',
        Array.from({ length: 60 }, (_, i) => 40_000 + i),
      )
      // Instance a takes slices and spends some of them …
      for (const [d, item] of items.slice(0, 10)) await phone(a, d).impress(item)
      // … then is replaced by a new instance (its close gives back the unspent part).
      await a.close()
      a = await startTestApp(b.databaseUrl, { seed: false })
      const rest: unknown[] = []
      for (const [d, item] of items.slice(10))
        rest.push((await phone(b, d).impress(item)).headers['x-allot-counted'])
      assert.equal(rest.filter((o) => o === 'counted').length, 20, `${rest}`)
    })
  })
}
