import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createInstalledApps } from '../../src/services/installed-apps.service.js'
import type { InstalledAppsStore } from '../../src/services/ports/devices.ports.js'

const NOW = 1_700_000_000_000

/** An in-memory store that counts its reads and can hold them until released. */
function fakeStore() {
  const lists = new Map<string, { packages: readonly string[]; at: number }>()
  const calls = { get: 0, put: 0 }
  let gate: Promise<void> = Promise.resolve()
  let failNext = false
  const store: InstalledAppsStore = {
    async get(appId, ifa) {
      calls.get++
      const found = lists.get(`${appId}/${ifa}`)?.packages
      await gate
      if (failNext) {
        failNext = false
        throw new Error('store down')
      }
      return found
    },
    async put(appId, ifa, packages, at) {
      calls.put++
      lists.set(`${appId}/${ifa}`, { packages: [...packages], at })
    },
  }
  return {
    store,
    calls,
    lists,
    /** Another process's upload: straight into the store, past this process's cache. */
    writeBehind: (appId: number, ifa: string, packages: string[]) =>
      lists.set(`${appId}/${ifa}`, { packages, at: NOW }),
    hold(): () => void {
      let release = () => {}
      gate = new Promise((resolve) => {
        release = resolve
      })
      return release
    },
    failNext: () => {
      failNext = true
    },
  }
}

const sorted = (set: ReadonlySet<string> | undefined) => (set ? [...set].sort() : set)

describe('installed apps service', () => {
  test('a second read of one device is a cache hit', async () => {
    const fake = fakeStore()
    fake.writeBehind(7, 'ifa-1', ['com.a', 'com.b'])
    const apps = createInstalledApps({ store: fake.store, clock: () => NOW, maxEntries: 100 })
    assert.deepEqual(sorted(await apps.packages(7, 'ifa-1')), ['com.a', 'com.b'])
    assert.deepEqual(sorted(await apps.packages(7, 'ifa-1')), ['com.a', 'com.b'])
    assert.equal(fake.calls.get, 1)
    assert.ok((await apps.packages(7, 'ifa-1'))?.has('com.b'), 'a Set, for target_app lookups')
  })

  test('a device that never uploaded reads undefined, and that answer is cached too', async () => {
    const fake = fakeStore()
    const apps = createInstalledApps({ store: fake.store, clock: () => NOW, maxEntries: 100 })
    assert.equal(await apps.packages(7, 'nobody'), undefined)
    assert.equal(await apps.packages(7, 'nobody'), undefined)
    assert.equal(fake.calls.get, 1)
  })

  test('the key is the app id and the ifa together', async () => {
    const fake = fakeStore()
    fake.writeBehind(7, 'ifa-1', ['com.seven'])
    fake.writeBehind(8, 'ifa-1', ['com.eight'])
    const apps = createInstalledApps({ store: fake.store, clock: () => NOW, maxEntries: 100 })
    assert.deepEqual(sorted(await apps.packages(7, 'ifa-1')), ['com.seven'])
    assert.deepEqual(sorted(await apps.packages(8, 'ifa-1')), ['com.eight'])
    assert.equal(await apps.packages(7, 'ifa-2'), undefined)
  })

  test('concurrent misses for one device make one load', async () => {
    const fake = fakeStore()
    fake.writeBehind(7, 'ifa-1', ['com.a'])
    const apps = createInstalledApps({ store: fake.store, clock: () => NOW, maxEntries: 100 })
    const release = fake.hold()
    const reads = Array.from({ length: 20 }, () => apps.packages(7, 'ifa-1'))
    release()
    for (const read of await Promise.all(reads)) assert.deepEqual(sorted(read), ['com.a'])
    assert.equal(fake.calls.get, 1)
  })

  test('an update stores the list with the time and refreshes the cached copy at once', async () => {
    const fake = fakeStore()
    fake.writeBehind(7, 'ifa-1', ['com.old'])
    const apps = createInstalledApps({ store: fake.store, clock: () => NOW + 5, maxEntries: 100 })
    assert.deepEqual(sorted(await apps.packages(7, 'ifa-1')), ['com.old'])
    await apps.update(7, 'ifa-1', ['com.new', 'com.other'])
    assert.deepEqual(fake.lists.get('7/ifa-1'), { packages: ['com.new', 'com.other'], at: NOW + 5 })
    assert.deepEqual(sorted(await apps.packages(7, 'ifa-1')), ['com.new', 'com.other'])
    assert.equal(fake.calls.get, 1, 'answered from the refreshed cache, not reloaded')
  })

  test('an update during a slow load wins; the waiting reader still gets an answer', async () => {
    const fake = fakeStore()
    fake.writeBehind(7, 'ifa-1', ['com.old'])
    const apps = createInstalledApps({ store: fake.store, clock: () => NOW, maxEntries: 100 })
    const release = fake.hold()
    const slow = apps.packages(7, 'ifa-1')
    await apps.update(7, 'ifa-1', ['com.new'])
    release()
    assert.deepEqual(sorted(await slow), ['com.old'], 'the read began before the update')
    assert.deepEqual(sorted(await apps.packages(7, 'ifa-1')), ['com.new'])
    assert.equal(fake.calls.get, 1)
  })

  test("another process's upload is seen once the TTL has passed", async () => {
    const fake = fakeStore()
    fake.writeBehind(7, 'ifa-1', ['com.old'])
    let now = NOW
    const apps = createInstalledApps({ store: fake.store, clock: () => now, maxEntries: 100, ttlMs: 30_000 })
    assert.deepEqual(sorted(await apps.packages(7, 'ifa-1')), ['com.old'])
    fake.writeBehind(7, 'ifa-1', ['com.new'])
    now += 30_000
    assert.deepEqual(sorted(await apps.packages(7, 'ifa-1')), ['com.old'], 'within the TTL')
    now += 1
    assert.deepEqual(sorted(await apps.packages(7, 'ifa-1')), ['com.new'])
    assert.equal(fake.calls.get, 2)
  })

  test('a failed load rejects and is not cached', async () => {
    const fake = fakeStore()
    fake.writeBehind(7, 'ifa-1', ['com.a'])
    const apps = createInstalledApps({ store: fake.store, clock: () => NOW, maxEntries: 100 })
    fake.failNext()
    await assert.rejects(apps.packages(7, 'ifa-1'), /store down/)
    assert.deepEqual(sorted(await apps.packages(7, 'ifa-1')), ['com.a'])
    assert.equal(fake.calls.get, 2)
  })

  test('the least recently used device leaves when the cache is full', async () => {
    const fake = fakeStore()
    const apps = createInstalledApps({ store: fake.store, clock: () => NOW, maxEntries: 2 })
    for (const ifa of ['a', 'b', 'a', 'c']) await apps.packages(1, ifa)
    assert.equal(fake.calls.get, 3)
    await apps.packages(1, 'a')
    assert.equal(fake.calls.get, 3, 'a was used recently and stayed')
    await apps.packages(1, 'b')
    assert.equal(fake.calls.get, 4, 'b was evicted')
  })
})
