import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { parseDatabaseUrl } from '../../src/config/config.js'
import type { LiveDto } from '../../src/http/dto/live.dto.js'
import { openDatabase } from '../../src/infra/database/database.js'
import { type RedisBackend, redisBackend } from '../helpers/redis.js'
import { type SqlBackend, sqlBackends } from '../helpers/sql-backends.js'
import { allocateDemo, startTestApp, type TestApp } from '../helpers/test-app.js'

const redis = await redisBackend()
const setups: { name: string; backend: SqlBackend; redis?: RedisBackend; skip: string | undefined }[] = []
for (const backend of await sqlBackends()) {
  setups.push({ name: `${backend.name} (snapshots in SQL)`, backend, skip: backend.skip })
  if (backend.name === 'mariadb')
    setups.push({
      name: 'mariadb + Redis (snapshots in Redis)',
      backend,
      redis,
      skip: backend.skip ?? redis.skip,
    })
}

/** Asks `t` for the live figures until `done` holds of them; fails with the last answer after a deadline. */
async function liveUntil(
  t: TestApp,
  done: (live: LiveDto) => boolean,
  deadlineMs = 10_000,
): Promise<LiveDto> {
  const until = Date.now() + deadlineMs
  for (;;) {
    const res = await t.admin('GET', '/admin/live')
    assert.equal(res.statusCode, 200, res.body)
    const live: LiveDto = res.json()
    if (done(live)) return live
    if (Date.now() > until) assert.fail(`not reached in ${deadlineMs} ms: ${JSON.stringify(live.fleet)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Rows in the SQL fleet table (read directly: the admin API does not show where snapshots live). */
async function sqlRows(t: TestApp): Promise<number> {
  const database = openDatabase(parseDatabaseUrl(t.databaseUrl, 1))
  try {
    const rows = await database.db.selectFrom('fleet_instances').select('instance_id').execute()
    return rows.length
  } finally {
    await database.close()
  }
}

for (const setup of setups)
  describe(`the fleet view on ${setup.name}`, { skip: setup.skip }, () => {
    let a: TestApp
    let b: TestApp
    before(async () => {
      const url = await setup.backend.createDatabaseUrl()
      const env: Record<string, string> = { FLEET_SNAPSHOT_MS: '100' }
      if (setup.redis)
        Object.assign(env, { REDIS_URL: setup.redis.url, REDIS_KEY_PREFIX: setup.redis.prefix })
      a = await startTestApp(url, { seed: true, env })
      b = await startTestApp(url, { env })
    })
    after(async () => {
      await Promise.all([a?.close(), b?.close()])
      await setup.backend.cleanup()
      await setup.redis?.cleanup()
    })

    test("two instances serving traffic: either one's live view shows both and their sum", async () => {
      for (const device of [1, 2, 3]) await allocateDemo(a, device)
      for (const device of [4, 5]) await allocateDemo(b, device)
      const bothCounted = (live: LiveDto) =>
        live.fleet.instances.length === 2 && live.fleet.total.requests_total === 5
      for (const [t, served] of [
        [a, 3],
        [b, 2],
      ] as const) {
        const { fleet } = await liveUntil(t, bothCounted)
        assert.equal(fleet.partial, false)
        assert.equal(fleet.total.instances, 2)
        const self = fleet.instances.find((i) => i.instance_id === fleet.self)
        const other = fleet.instances.find((i) => i.instance_id !== fleet.self)
        assert.equal(self?.requests_total, served)
        assert.equal(other?.requests_total, 5 - served)
        // Rates and counts are the instances' summed.
        assert.equal(fleet.total.requests, (self?.requests ?? 0) + (other?.requests ?? 0))
        assert.equal(fleet.total.cache_entries, (self?.cache_entries ?? 0) + (other?.cache_entries ?? 0))
        assert.ok((fleet.total.latency_p99_ms ?? 0) > 0, 'the fleet has a p99')
      }
      await assertSnapshotsWhereExpected(a)
    })

    /** With Redis the snapshots are in its hash and none in SQL; without, in the SQL table. */
    async function assertSnapshotsWhereExpected(t: TestApp) {
      const rows = await sqlRows(t)
      if (!setup.redis) return assert.equal(rows, 2)
      assert.equal(rows, 0, 'nothing in SQL with Redis')
      const client = new Redis(setup.redis.url)
      try {
        assert.equal(await client.hlen(`${setup.redis.prefix}{fleet}:instances`), 2)
      } finally {
        client.disconnect()
      }
    }

    test('an instance that stops leaves the view (removed as it closes, else within a few periods)', async () => {
      const selfOfB = (await liveUntil(b, (l) => l.fleet.instances.length === 2)).fleet.self
      await b.close()
      const { fleet } = await liveUntil(a, (l) => l.fleet.instances.length === 1, 2_000)
      assert.notEqual(fleet.instances[0]?.instance_id, selfOfB)
      assert.equal(fleet.total.requests_total, 3)
    })
  })
