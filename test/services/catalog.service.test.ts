import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Campaign } from '../../src/domain/catalog.js'
import { campaignDraft } from '../../src/domain/drafts.js'
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
    eachServableCampaign: async () => {
      state.loads++
    },
    listCategories: async () => [],
    listChannels: async () => [],
  }
  return { store, state }
}

/** Lets the promise callbacks already due run (the failed first attempt schedules the retries). */
const afterCallbacks = () => new Promise((resolve) => setImmediate(resolve))

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

  test('an announced change that fails to load is tried again every second until it loads, then no more', async () => {
    const { store, state } = fakeStore()
    const { scheduler, clock, advance, errors } = createManualScheduler()
    const catalog = createCatalogService({ store, refreshMs: 600_000, clock, scheduler })
    await catalog.reload()
    state.version = 2
    state.fail = true
    catalog.reloadUntilDone()
    await afterCallbacks()
    await advance(1000)
    assert.equal(catalog.current().version, 1, 'the database is still down')
    assert.deepEqual(errors, [['catalog reload after a notice', 'database down']])
    state.fail = false
    await advance(1000)
    assert.equal(catalog.current().version, 2, 'loaded a second later, not at the 10-minute poll')
    const loads = state.loads
    await advance(10_000)
    assert.equal(state.loads, loads, 'no retry once loaded')
    state.fail = true
    catalog.reloadUntilDone()
    await catalog.stop()
    await afterCallbacks()
    await advance(10_000)
    assert.equal(errors.length, 1, 'nothing is tried after stop')
  })

  test('a failed reload rejects to its caller only: nothing is left unhandled (that would end the process)', async () => {
    const { store, state } = fakeStore()
    const { scheduler, clock } = createManualScheduler()
    const catalog = createCatalogService({ store, refreshMs: 1000, clock, scheduler })
    const unhandled: unknown[] = []
    const note = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', note)
    try {
      state.fail = true
      await assert.rejects(catalog.reload(), /database down/)
      // Two at once: the second runs after the first, and each caller hears of its own failure.
      const [first, second] = [catalog.reload(), catalog.reload()]
      await assert.rejects(first, /database down/)
      await assert.rejects(second, /database down/)
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(unhandled, [])
      state.fail = false
      await catalog.reload()
      assert.equal(catalog.current().version, 1, 'the next reload builds as usual')
    } finally {
      process.off('unhandledRejection', note)
    }
  })

  test('a listing that fails after handing over some campaigns leaves the previous snapshot serving, whole', async () => {
    const { scheduler, clock } = createManualScheduler()
    const draft = (id: number) => ({
      ...campaignDraft({ name: `c${id}`, type: 'I', start_date: 0, end_date: 1e13 }),
      id,
      created_at: 0,
      updated_at: 0,
    })
    let listing: 'whole' | 'fails midway' = 'whole'
    let version = 1
    const store = {
      catalogVersion: async () => version,
      listUnits: async () => [],
      eachServableCampaign: async (_now: number, take: (c: Campaign) => void) => {
        take(draft(1))
        take(draft(2))
        if (listing === 'fails midway') throw new Error('database gone on the next page')
        take(draft(3))
      },
      listCategories: async () => [],
      listChannels: async () => [],
    }
    const catalog = createCatalogService({ store, refreshMs: 1000, clock, scheduler })
    await catalog.reload()
    const before = catalog.current()
    assert.deepEqual(
      before.ads.map((e) => e.campaign.id),
      [1, 2, 3],
    )
    version = 2
    listing = 'fails midway'
    await assert.rejects(catalog.reload(), /database gone/)
    assert.equal(catalog.current(), before, 'the snapshot of version 1, untouched')
    assert.deepEqual(
      catalog.current().ads.map((e) => e.campaign.id),
      [1, 2, 3],
    )
    listing = 'whole'
    await catalog.reload()
    assert.equal(catalog.current().version, 2)
    assert.deepEqual(
      catalog.current().ads.map((e) => e.campaign.id),
      [1, 2, 3],
      'a fresh build, nothing carried over from the failed one',
    )
  })
})
