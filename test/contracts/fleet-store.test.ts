import { after, before, describe } from 'node:test'
import { parseDatabaseUrl } from '../../src/config/config.js'
import { openDatabase, type SqlDatabase } from '../../src/infra/database/database.js'
import { migrateToLatest } from '../../src/infra/database/migrator.js'
import { openRedis, type RedisConnection } from '../../src/infra/redis/redis.js'
import { createSqlFleetRepository } from '../../src/repositories/fleet.repository.js'
import { createRedisFleetRepository } from '../../src/repositories/redis-fleet.repository.js'
import type { FleetStore } from '../../src/services/fleet.service.js'
import { redisDeployments } from '../helpers/redis-cluster.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { fleetStoreContract } from './fleet-store.contract.js'

for (const backend of await sqlBackends()) {
  describe(`fleet store contract: SQL on ${backend.name}`, { skip: backend.skip }, () => {
    let database: SqlDatabase
    let store: FleetStore
    before(async () => {
      database = openDatabase(parseDatabaseUrl(await backend.createDatabaseUrl(), 5))
      await migrateToLatest(database.db)
      store = createSqlFleetRepository(database.db, database.dialect)
    })
    after(async () => {
      await database?.close()
      await backend.cleanup()
    })
    fleetStoreContract(() => store)
  })
}

for (const deployment of await redisDeployments())
  describe(`fleet store contract: ${deployment.name}`, { skip: deployment.skip }, () => {
    let connection: RedisConnection
    let store: FleetStore
    const redis = { stop: async () => {} }
    before(async () => {
      const started = await deployment.start()
      redis.stop = started.stop
      connection = await openRedis({
        urls: started.url.split(','),
        cluster: started.cluster,
        timeoutMs: 1000,
      })
      store = createRedisFleetRepository(connection.client, started.prefix)
    })
    after(async () => {
      await connection?.close()
      await redis.stop()
    })
    fleetStoreContract(() => store)
  })
