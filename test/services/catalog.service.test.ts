import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createCatalogService } from '../../src/services/catalog.service.js'

const quiet = { info() {}, warn() {}, error() {} }

/** A store whose version the test moves, counting full loads. */
function fakeStore() {
  const state = { version: 1, loads: 0, fail: false }
  const store = {
    catalogVersion: async () => {
      if (state.fail) throw new Error('database down')
      return state.version
    },
    listUnits: async () => [],
    listServableCampaigns: async () => {
      state.loads++
      return []
    },
    listCategories: async () => [],
    listChannels: async () => [],
  }
  return { store, state }
}

describe('catalog service', () => {
  test('an unchanged catalog is not rebuilt by the poll; a version change is picked up', async () => {
    const { store, state } = fakeStore()
    let now = 0
    let tick: () => Promise<void> = async () => {}
    const realSetInterval = globalThis.setInterval
    globalThis.setInterval = ((fn: () => Promise<void>) => {
      tick = fn
      return { unref() {} } as NodeJS.Timeout
    }) as typeof setInterval
    try {
      const catalog = createCatalogService({ store, refreshMs: 1000, clock: () => now, logger: quiet })
      await catalog.reload()
      catalog.start()
      assert.equal(state.loads, 1)
      for (let i = 0; i < 600; i++) {
        now += 1000
        await tick()
      }
      assert.equal(state.loads, 1, 'ten minutes of polls, no change, no rebuild')
      assert.equal(catalog.checkedAt(), now, 'but every poll reached the store')
      state.version = 2
      now += 1000
      await tick()
      assert.equal(state.loads, 2)
      assert.equal(catalog.current().version, 2)
      now += 16 * 60_000
      await tick()
      assert.equal(state.loads, 3, 'rebuilt for hygiene after 15 minutes')
      state.fail = true
      const before = catalog.checkedAt()
      now += 1000
      await tick()
      assert.equal(catalog.checkedAt(), before, 'a failed poll does not count as checked')
      assert.equal(catalog.current().version, 2, 'the previous snapshot keeps serving')
    } finally {
      globalThis.setInterval = realSetInterval
    }
  })
})
