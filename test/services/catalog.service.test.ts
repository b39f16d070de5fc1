import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createCatalogService } from '../../src/services/catalog.service.js'
import { createManualScheduler } from '../helpers/manual-timers.js'

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
    const { scheduler, clock, advance, errors } = createManualScheduler()
    const catalog = createCatalogService({ store, refreshMs: 1000, clock, scheduler })
    await catalog.reload()
    catalog.start()
    assert.equal(state.loads, 1)
    await advance(600 * 1000)
    assert.equal(state.loads, 1, 'ten minutes of polls, no change, no rebuild')
    assert.equal(catalog.checkedAt(), clock(), 'but every poll reached the store')
    state.version = 2
    await advance(1000)
    assert.equal(state.loads, 2)
    assert.equal(catalog.current().version, 2)
    // Polls see no change for 15 minutes; the first one past that rebuilds.
    await advance(15 * 60_000)
    assert.equal(state.loads, 2)
    await advance(1000)
    assert.equal(state.loads, 3, 'rebuilt for hygiene after 15 minutes')
    state.fail = true
    const before = catalog.checkedAt()
    await advance(1000)
    assert.equal(catalog.checkedAt(), before, 'a failed poll does not count as checked')
    assert.equal(catalog.current().version, 2, 'the previous snapshot keeps serving')
    assert.deepEqual(errors, [['catalog refresh', 'database down']], 'the failure is reported by name')
    state.fail = false
    await advance(1000)
    assert.equal(catalog.checkedAt(), clock(), 'the next poll runs as usual')
    await catalog.stop()
    await advance(60_000)
    assert.equal(catalog.checkedAt(), clock() - 60_000, 'no poll after stop')
  })
})
