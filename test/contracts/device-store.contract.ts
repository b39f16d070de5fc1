import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type ActivityItem, Registrations } from '../../src/domain/device.js'
import type { ActivityStore, DeviceReader, ProfileStore } from '../../src/services/ports/devices.ports.js'
import type { SeenStore } from '../../src/services/reach.service.js'

export type DeviceStore = ProfileStore & ActivityStore & DeviceReader & SeenStore

/** The behaviour every profile/activity adapter must show; call inside a describe() per adapter. */
export function deviceStoreContract(store: () => DeviceStore): void {
  const record = (deviceId: number, item: ActivityItem) => store().recordActivities([{ deviceId, item }])
  // Device ids are random per call so suites sharing one store never see each other's data.
  const newDevice = () => 1 + Math.floor(Math.random() * 2 ** 40)

  test('a device without a profile reads as undefined', async () => {
    assert.equal(await store().getProfile(newDevice()), undefined)
  })

  test('a stored profile reads back, and a second put replaces it', async () => {
    const device = newDevice()
    await store().putProfile({ device_id: device, category_scores: { news: 0.5, 연예: 2 }, updated_at: 1000 })
    assert.deepEqual(await store().getProfile(device), {
      device_id: device,
      category_scores: { news: 0.5, 연예: 2 },
      updated_at: 1000,
    })
    await store().putProfile({ device_id: device, category_scores: { sports: 1 }, updated_at: 2000 })
    assert.deepEqual((await store().getProfile(device))?.category_scores, { sports: 1 })
  })

  test('the first registration time per unit wins, even when registrations race', async () => {
    const device = newDevice()
    const times = await Promise.all(
      [5000, 3000, 4000, 6000].map((at) => store().registerDevice(device, 1001, at)),
    )
    assert.ok(
      times.every((t) => t === times[0]),
      `all callers see one time: ${times}`,
    )
    assert.equal(await store().registerDevice(device, 1001, 1), times[0])
    assert.equal(await store().registerDevice(device, 2002, 7000), 7000, 'another unit registers separately')
  })

  test('activity lists the items since a time, oldest first, for that device only', async () => {
    const device = newDevice()
    const other = newDevice()
    await record(device, { type: 'impression', campaign_id: 1, at: 1_000 })
    await record(device, { type: 'click', campaign_id: 1, at: 3_000 })
    await record(device, { type: 'impression', campaign_id: 2, at: 2_000 })
    await record(other, { type: 'impression', campaign_id: 9, at: 2_500 })
    assert.deepEqual(await store().listActivity(device, 1_500), [
      { type: 'impression', campaign_id: 2, at: 2_000 },
      { type: 'click', campaign_id: 1, at: 3_000 },
    ])
    assert.equal((await store().listActivity(device, 0)).length, 3)
  })

  test('two events of one campaign in the same millisecond are both kept', async () => {
    const device = newDevice()
    await Promise.all([
      record(device, { type: 'impression', campaign_id: 4, at: 10_000 }),
      record(device, { type: 'impression', campaign_id: 4, at: 10_000 }),
    ])
    assert.equal((await store().listActivity(device, 0)).length, 2)
  })

  test('loadDevice reads profile, registrations and activity since a time, in one call', async () => {
    const device = newDevice()
    assert.deepEqual(await store().loadDevice(device, 0), {
      profile: undefined,
      registrations: new Registrations(),
      activity: [],
    })
    await store().putProfile({ device_id: device, category_scores: { news: 3 }, updated_at: 500 })
    await store().registerDevice(device, 1001, 100)
    await store().registerDevice(device, 2002, 200)
    await record(device, { type: 'impression', campaign_id: 1, at: 1_000 })
    await record(device, { type: 'click', campaign_id: 1, at: 3_000 })
    await record(device, { type: 'impression', campaign_id: 2, at: 2_000 })
    await record(newDevice(), { type: 'impression', campaign_id: 9, at: 2_500 })
    assert.deepEqual(await store().loadDevice(device, 1_500), {
      profile: { device_id: device, category_scores: { news: 3 }, updated_at: 500 },
      registrations: new Registrations([
        [1001, 100],
        [2002, 200],
      ]),
      activity: [
        { type: 'impression', campaign_id: 2, at: 2_000 },
        { type: 'click', campaign_id: 1, at: 3_000 },
      ],
    })
  })

  test('loads made together (a batch in MySQL) each get their own device and activity window', async () => {
    const [a, b, empty] = [newDevice(), newDevice(), newDevice()]
    await store().putProfile({ device_id: a, category_scores: { news: 1 }, updated_at: 10 })
    await store().registerDevice(b, 1001, 20)
    await record(a, { type: 'impression', campaign_id: 1, at: 1_000 })
    await record(a, { type: 'click', campaign_id: 1, at: 2_000 })
    await record(b, { type: 'impression', campaign_id: 2, at: 1_500 })
    const [aAll, bAll, aLate, none, ...many] = await Promise.all([
      store().loadDevice(a, 0),
      store().loadDevice(b, 0),
      store().loadDevice(a, 1_500),
      store().loadDevice(empty, 0),
      // More than one statement's worth of ids.
      ...Array.from({ length: 70 }, () => store().loadDevice(newDevice(), 0)),
    ])
    assert.deepEqual(aAll, {
      profile: { device_id: a, category_scores: { news: 1 }, updated_at: 10 },
      registrations: new Registrations(),
      activity: [
        { type: 'impression', campaign_id: 1, at: 1_000 },
        { type: 'click', campaign_id: 1, at: 2_000 },
      ],
    })
    assert.deepEqual(bAll, {
      profile: undefined,
      registrations: new Registrations([[1001, 20]]),
      activity: [{ type: 'impression', campaign_id: 2, at: 1_500 }],
    })
    assert.deepEqual(aLate?.activity, [{ type: 'click', campaign_id: 1, at: 2_000 }])
    // Each answer is its own record: the device cache changes them in place.
    assert.notEqual(aAll?.registrations, aLate?.registrations)
    assert.deepEqual(none, { profile: undefined, registrations: new Registrations(), activity: [] })
    assert.equal(many.length, 70)
    for (const device of many)
      assert.deepEqual(device, { profile: undefined, registrations: new Registrations(), activity: [] })
  })
}
