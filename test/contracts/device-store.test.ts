import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { parseDatabaseUrl } from '../../src/config/config.js'
import { Registrations } from '../../src/domain/device.js'
import { openDatabase, type SqlDatabase } from '../../src/infra/database/database.js'
import { migrateToLatest } from '../../src/infra/database/migrator.js'
import { toItem } from '../../src/infra/dynamodb/attribute-values.js'
import type { DynamoOperation, DynamoTransport } from '../../src/infra/dynamodb/dynamodb-http.js'
import {
  createDynamoDeviceRepository,
  prepareDeviceTable,
} from '../../src/repositories/dynamodb-device.repository.js'
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

for (const [client, through, prepared] of [
  ['http', "Allot's lean HTTP client", true],
  ['sdk', 'the AWS SDK v3', true],
  ['http', "Allot's lean HTTP client, a table from before device marks", false],
] as const) {
  describe(`device store contract: DynamoDB (dynalite through ${through})`, () => {
    let dynamo: TestDynamo
    let store: DeviceStore
    before(async () => {
      dynamo = await startDynamo(undefined, client, prepared)
      store = createDynamoDeviceRepository(dynamo.connection.transport, dynamo.table)
    })
    after(async () => {
      await dynamo?.close()
    })
    deviceStoreContract(() => store)
    seenStoreContract(() => store)
  })
}

describe('DynamoDB device marks: a new device costs no partition Query', () => {
  let dynamo: TestDynamo
  const calls: DynamoOperation[] = []
  /** The table's transport, counting the calls it sends. */
  const counted = (): DynamoTransport => ({
    call(operation, input, signal) {
      calls.push(operation)
      return dynamo.connection.transport.call(operation, input, signal)
    },
    close: async () => {},
  })
  const count = (operation: DynamoOperation) => calls.filter((c) => c === operation).length
  const newDevice = () => 1 + Math.floor(Math.random() * 2 ** 40)
  const put = (item: Record<string, unknown>) =>
    dynamo.connection.transport.call(
      'PutItem',
      { TableName: dynamo.table, Item: toItem(item) },
      AbortSignal.timeout(5_000),
    )

  before(async () => {
    dynamo = await startDynamo()
  })
  after(async () => {
    await dynamo?.close()
  })

  test('loads and registrations of 60 new devices made together: one BatchGetItem, no Query, no PutItem', async () => {
    const store = createDynamoDeviceRepository(counted(), dynamo.table)
    await store.loadDevice(newDevice(), 0) // the table's format is read once
    calls.length = 0
    const devices = Array.from({ length: 60 }, newDevice)
    const loaded = await Promise.all(devices.map((d) => store.loadDevice(d, 0)))
    for (const device of loaded)
      assert.deepEqual(device, { profile: undefined, registrations: new Registrations(), activity: [] })
    assert.deepEqual([count('BatchGetItem'), count('Query')], [1, 0])
    calls.length = 0
    const times = await Promise.all(devices.map((d, i) => store.registerDevice(d, 7, 1_000 + i)))
    assert.deepEqual(
      times,
      devices.map((_, i) => 1_000 + i),
    )
    // The load has just found them empty: nothing to read. 60 registrations and 60 marks, twelve devices'
    // (24 items) per BatchWriteItem.
    assert.deepEqual([count('BatchGetItem'), count('BatchWriteItem'), count('PutItem')], [0, 5, 0])
    // Another process (its own repository) finds them, and the registration that stands.
    const other = createDynamoDeviceRepository(dynamo.connection.transport, dynamo.table)
    const again = await other.loadDevice(devices[3] as number, 0)
    assert.deepEqual(again.registrations, new Registrations([[7, 1_003]]))
    assert.equal(await other.registerDevice(devices[3] as number, 7, 9_999), 1_003)
  })

  test('a device marked once is not marked again by the same process', async () => {
    const store = createDynamoDeviceRepository(counted(), dynamo.table)
    const device = newDevice()
    await store.recordActivities([{ deviceId: device, item: { type: 'impression', campaign_id: 1, at: 1 } }])
    calls.length = 0
    await store.recordActivities([{ deviceId: device, item: { type: 'click', campaign_id: 1, at: 2 } }])
    await store.putProfile({ device_id: device, category_scores: { news: 1 }, updated_at: 3 })
    const other = createDynamoDeviceRepository(dynamo.connection.transport, dynamo.table)
    const loaded = await other.loadDevice(device, 0)
    assert.equal(loaded.activity.length, 2)
    assert.deepEqual(loaded.profile?.category_scores, { news: 1 })
    assert.equal(count('BatchWriteItem'), 2)
  })

  test('a table from before marks: every load queries its partition until it is told to mark the devices', async () => {
    const old = await startDynamo(undefined, 'http', false)
    try {
      const device = newDevice()
      const putOld = (item: Record<string, unknown>) =>
        old.connection.transport.call(
          'PutItem',
          { TableName: old.table, Item: toItem(item) },
          AbortSignal.timeout(5_000),
        )
      // Items as a version without marks wrote them.
      await putOld({ device_id: device, sk: 'profile', category_scores: { news: 2 }, updated_at: 5 })
      await putOld({ device_id: device, sk: 'reg#7', registered_at: 100 })
      await putOld({
        device_id: device,
        sk: 'act#000000000001000#ab',
        type: 'impression',
        campaign_id: 3,
        at: 1_000,
      })
      const expected = {
        profile: { device_id: device, category_scores: { news: 2 }, updated_at: 5 },
        registrations: new Registrations([[7, 100]]),
        activity: [{ type: 'impression', campaign_id: 3, at: 1_000 }],
      }
      const before = createDynamoDeviceRepository(old.connection.transport, old.table)
      assert.deepEqual(await before.loadDevice(device, 0), expected)
      const prepare = (markExisting: boolean) =>
        prepareDeviceTable(old.connection.transport, old.table, { created: false, markExisting })
      assert.equal(await prepare(false), 'not marked', 'an existing table is marked only when asked')
      assert.deepEqual(
        await createDynamoDeviceRepository(old.connection.transport, old.table).loadDevice(device, 0),
        expected,
      )
      assert.equal(await prepare(true), 1)
      assert.equal(await prepare(true), 'already')
      const after = createDynamoDeviceRepository(old.connection.transport, old.table)
      assert.deepEqual(await after.loadDevice(device, 0), expected)
    } finally {
      await old.close()
    }
  })

  /** Batch calls a throttled table answered only in part, by operation. */
  const handedBack = { BatchGetItem: 0, BatchWriteItem: 0 }
  /**
   * The table's transport, answering as a throttled table does: every other batch call of more than one
   * entry has only its first half done, the rest handed back as unprocessed.
   */
  const halfDone = (): DynamoTransport => {
    const real = dynamo.connection.transport
    const table = dynamo.table
    let throttle = true
    return {
      async call(operation, input, signal) {
        const asked = (input as { RequestItems?: Record<string, { Keys?: unknown[] } | unknown[]> })
          .RequestItems?.[table]
        const entries = Array.isArray(asked) ? asked : asked?.Keys
        if (!entries || entries.length < 2) return real.call(operation, input, signal)
        throttle = !throttle
        if (!throttle) return real.call(operation, input, signal)
        const half = Math.ceil(entries.length / 2)
        if (operation === 'BatchWriteItem') {
          handedBack.BatchWriteItem++
          await real.call(operation, { RequestItems: { [table]: entries.slice(0, half) } }, signal)
          return { UnprocessedItems: { [table]: entries.slice(half) } }
        }
        handedBack.BatchGetItem++
        const done = { Keys: entries.slice(0, half), ConsistentRead: true }
        const answer = await real.call(operation, { RequestItems: { [table]: done } }, signal)
        return {
          ...answer,
          UnprocessedKeys: { [table]: { Keys: entries.slice(half), ConsistentRead: true } },
        }
      },
      close: async () => {},
    }
  }

  test('what a throttled table leaves unprocessed is sent again: every load, registration and mark lands', async () => {
    const store = createDynamoDeviceRepository(halfDone(), dynamo.table)
    const devices = Array.from({ length: 30 }, newDevice)
    await store.recordActivities(
      devices.map((deviceId) => ({ deviceId, item: { type: 'impression' as const, campaign_id: 1, at: 5 } })),
    )
    const times = await Promise.all(devices.map((d, i) => store.registerDevice(d, 7, 2_000 + i)))
    assert.deepEqual(
      times,
      devices.map((_, i) => 2_000 + i),
    )
    const other = createDynamoDeviceRepository(halfDone(), dynamo.table)
    const loaded = await Promise.all(devices.map((d) => other.loadDevice(d, 0)))
    loaded.forEach((device, i) => {
      assert.deepEqual(device.registrations, new Registrations([[7, 2_000 + i]]), `device ${i}`)
      assert.equal(device.activity.length, 1, `device ${i}`)
    })
    assert.ok(handedBack.BatchGetItem > 0 && handedBack.BatchWriteItem > 0, JSON.stringify(handedBack))
  })

  test('a write the table keeps refusing fails after six tries, naming what was not written', async () => {
    const refusing: DynamoTransport = {
      async call(operation, input, signal) {
        if (operation !== 'BatchWriteItem') return dynamo.connection.transport.call(operation, input, signal)
        calls.push(operation)
        return { UnprocessedItems: (input as { RequestItems: object }).RequestItems }
      },
      close: async () => {},
    }
    calls.length = 0
    const refused = createDynamoDeviceRepository(refusing, dynamo.table)
    await assert.rejects(
      refused.recordActivities([{ deviceId: newDevice(), item: { type: 'click', campaign_id: 1, at: 1 } }]),
      // The device's mark and its activity item, still unwritten after the sixth BatchWriteItem.
      { message: '2 activity items not written' },
    )
    assert.equal(count('BatchWriteItem'), 6)
  })

  test('on a marked table an unmarked partition reads as empty: marks are what loads trust', async () => {
    const store = createDynamoDeviceRepository(dynamo.connection.transport, dynamo.table)
    const device = newDevice()
    await put({ device_id: device, sk: 'reg#7', registered_at: 100 })
    assert.deepEqual((await store.loadDevice(device, 0)).registrations, new Registrations())
    // Another process's registration is read by its key, so the one that stands is still found.
    const other = createDynamoDeviceRepository(dynamo.connection.transport, dynamo.table)
    assert.equal(await other.registerDevice(device, 7, 200), 100)
  })

  test('a registration right after a load that found the device empty writes without reading first', async () => {
    const keysRead: number[] = []
    const reading: DynamoTransport = {
      call(operation, input, signal) {
        if (operation === 'BatchGetItem')
          for (const { Keys } of Object.values(
            (input as { RequestItems: Record<string, { Keys: [] }> }).RequestItems,
          ))
            keysRead.push(Keys.length)
        return counted().call(operation, input, signal)
      },
      close: async () => {},
    }
    const store = createDynamoDeviceRepository(reading, dynamo.table)
    const [fresh, known] = [newDevice(), newDevice()]
    await store.registerDevice(known, 3, 50)
    await Promise.all([store.loadDevice(fresh, 0), store.loadDevice(known, 0)])
    calls.length = 0
    keysRead.length = 0
    assert.deepEqual(
      await Promise.all([store.registerDevice(fresh, 3, 60), store.registerDevice(known, 4, 70)]),
      [60, 70],
    )
    // The device found with its mark is read first (one key); the new one is not.
    assert.deepEqual([count('BatchGetItem'), count('BatchWriteItem'), keysRead], [1, 1, [1]])
    // Once written, the device is no longer taken for empty: registering it again reads the one that stands.
    assert.equal(await store.registerDevice(fresh, 3, 90), 60)
  })
})
