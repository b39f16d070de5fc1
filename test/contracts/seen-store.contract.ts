import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { SeenDevice } from '../../src/domain/reach.js'
import type { SeenStore } from '../../src/services/reach.service.js'

/** The behaviour every store of devices' last-seen attributes must show; call inside a describe() per adapter. */
export function seenStoreContract(store: () => SeenStore): void {
  // Each test lists from its own time on (later tests write later), so tests sharing a store stay apart.
  const newDevice = () => 1 + Math.floor(Math.random() * 2 ** 40)
  const seen = (fields: Partial<SeenDevice> & Pick<SeenDevice, 'sample' | 'seenAt'>): SeenDevice => ({
    deviceId: newDevice(),
    unitId: 1001,
    appId: 100,
    country: undefined,
    gender: undefined,
    language: undefined,
    carrier: undefined,
    region: undefined,
    yearOfBirth: undefined,
    os: undefined,
    sdk: undefined,
    registeredAt: undefined,
    customTargets: [undefined, undefined, undefined],
    ...fields,
  })

  test('a device seen reads back with every attribute, absent ones absent', async () => {
    const t = 1_000_000_000_000
    const full = seen({
      sample: 123_456,
      seenAt: t + 5,
      unitId: 2_147_483_647,
      appId: 77,
      country: 'KR',
      gender: 'F',
      language: 'ko',
      carrier: '45005',
      region: '서울특별시 관악구',
      yearOfBirth: 1995,
      os: 30,
      sdk: 30005,
      registeredAt: t - 86_400_000,
      customTargets: ['gold,vip', undefined, '베타'],
    })
    const bare = seen({ sample: 123_457, seenAt: t + 6 })
    await store().saveSeen([full, bare])
    assert.deepEqual(await store().listSeen(t, undefined, 10), [full, bare])
  })

  test("a device's later sighting replaces the earlier one", async () => {
    const t = 2_000_000_000_000
    const first = seen({ sample: 99, seenAt: t, gender: 'M', region: '부산광역시 중구' })
    await store().saveSeen([first])
    const again = { ...first, seenAt: t + 86_400_000, gender: undefined, region: '서울특별시 관악구' }
    await store().saveSeen([again])
    assert.deepEqual(await store().listSeen(t, undefined, 10), [again])
  })

  test('devices come by ascending hash (then id), after a position, at most a limit, seen since a time', async () => {
    const t = 3_000_000_000_000
    // Hashes across the whole hash space (adapters may split it into partitions).
    const hashes = [4_294_967_295, 7, 2 ** 31, 7, 4_194_305, 4_194_304, 0]
    const devices = hashes.map((sample, i) => seen({ sample, seenAt: t + i, deviceId: 5_000 + i }))
    const old = seen({ sample: 1, seenAt: t - 1 })
    await store().saveSeen([...devices, old])
    const order = [...devices].sort((a, b) => a.sample - b.sample || a.deviceId - b.deviceId)
    assert.deepEqual(await store().listSeen(t, undefined, 100), order, 'all, ordered; the old one left out')
    assert.deepEqual(await store().listSeen(t, undefined, 3), order.slice(0, 3))
    const third = order[2] as SeenDevice
    assert.deepEqual(
      await store().listSeen(t, { sample: third.sample, deviceId: third.deviceId }, 3),
      order.slice(3, 6),
    )
    const last = order.at(-1) as SeenDevice
    assert.deepEqual(await store().listSeen(t, { sample: last.sample, deviceId: last.deviceId }, 3), [])
  })

  test('a batch bigger than one write, with a device twice, is written whole (the later one wins)', async () => {
    const t = 4_000_000_000_000
    const batch = Array.from({ length: 1_100 }, (_, i) => seen({ sample: 1_000 + i, seenAt: t }))
    const twice = { ...(batch[0] as SeenDevice), gender: 'F' }
    await store().saveSeen([...batch, twice])
    const read = await store().listSeen(t, undefined, 2_000)
    assert.equal(read.length, 1_100)
    assert.equal(read[0]?.gender, 'F')
  })
}
