import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { InstanceFigures, LiveCounters } from '../../src/domain/fleet.js'
import { createFleetView, type FleetStore, STALE_PERIODS } from '../../src/services/fleet.service.js'
import { figures } from '../contracts/fleet-store.contract.js'
import { createManualScheduler } from '../helpers/manual-timers.js'

/** A fake store: a map, optionally failing every call. */
function fakeStore() {
  const saved = new Map<string, { figures: InstanceFigures; expiresAt: number }>()
  const state = { failing: false }
  const check = () => {
    if (state.failing) throw new Error('store down')
  }
  const store: FleetStore = {
    async save(f, expiresAt) {
      check()
      saved.set(f.instanceId, { figures: f, expiresAt })
    },
    async list(now) {
      check()
      return [...saved.values()].filter((e) => e.expiresAt > now).map((e) => e.figures)
    },
    async remove(id) {
      check()
      saved.delete(id)
    },
  }
  return { store, saved, state }
}

function setup() {
  const manual = createManualScheduler(1_000_000)
  const { store, saved, state } = fakeStore()
  let served = 0
  const backlogReads: number[] = []
  const read = async ({ postbacks }: { postbacks: boolean }): Promise<LiveCounters> => {
    if (postbacks) backlogReads.push(manual.clock())
    return counters(postbacks)
  }
  const counters = (postbacks: boolean): LiveCounters => ({
    at: manual.clock(),
    allocation: {
      requests: [{ route: '/api/allocation/', status: '200', count: served }],
      latency: { boundsMs: [1, 10], counts: [served, 0, 0] },
      answers: { filled: served, empty: 0 },
    },
    deviceCache: { hits: 0, misses: 0, entries: 0 },
    postbacks: postbacks ? { pending: backlogReads.length, failed: 0, oldestPendingAgeSeconds: null } : null,
    upstream: [],
  })
  const degraded: string[] = []
  const fleet = createFleetView({
    store,
    instanceId: 'me',
    read,
    clock: manual.clock,
    periodMs: 1_000,
    scheduler: manual.scheduler,
    degraded: (what) => degraded.push(what),
  })
  return { manual, fleet, saved, state, degraded, backlogReads, serve: (n: number) => (served += n) }
}

describe('the fleet view service', () => {
  test('each period it publishes its figures over the window, kept for a few periods', async () => {
    const { manual, fleet, saved, serve } = setup()
    fleet.start()
    await manual.advance(1_000)
    serve(20)
    await manual.advance(1_000)
    const mine = saved.get('me')
    assert.equal(mine?.figures.requests, 20)
    assert.equal(mine?.figures.windowMs, 1_000)
    assert.equal(mine?.expiresAt, manual.clock() + STALE_PERIODS * 1_000)
    await fleet.stop()
    assert.equal(saved.has('me'), false, 'a stopping instance takes itself off')
  })

  test('the outbox backlog (a SQL read) is published from a read every 10 s, carried in between', async () => {
    const { manual, fleet, saved, backlogReads } = setup()
    fleet.start()
    await manual.advance(9_000)
    assert.deepEqual(backlogReads, [1_001_000], 'read once in the first nine periods')
    assert.deepEqual(saved.get('me')?.figures.postbacks, {
      pending: 1,
      failed: 0,
      oldestPendingAgeSeconds: null,
    })
    await manual.advance(2_000)
    assert.deepEqual(backlogReads, [1_001_000, 1_011_000])
    assert.equal(saved.get('me')?.figures.postbacks?.pending, 2)
    await fleet.view()
    assert.equal(backlogReads.length, 3, 'the live view reads it fresh')
    await fleet.stop()
  })

  test("the view adds the others' figures to its own, and sums them", async () => {
    const { manual, fleet, saved, serve } = setup()
    saved.set('other', {
      figures: figures('other', manual.clock(), { requestsTotal: 7 }),
      expiresAt: manual.clock() + 5_000,
    })
    serve(3)
    const view = await fleet.view()
    assert.deepEqual(
      view.instances.map((i) => i.instanceId),
      ['me', 'other'],
    )
    assert.equal(view.total.requestsTotal, 10)
    assert.equal(view.partial, false)
  })

  test('while the store is down the view shows this instance alone, marked partial, and publishing is retried', async () => {
    const { manual, fleet, saved, state, degraded, serve } = setup()
    state.failing = true
    fleet.start()
    serve(4)
    await manual.advance(1_000)
    const view = await fleet.view()
    assert.equal(view.partial, true)
    assert.deepEqual(
      view.instances.map((i) => i.instanceId),
      ['me'],
    )
    assert.equal(view.total.requestsTotal, 4)
    assert.deepEqual(degraded, ['fleet snapshot write', 'fleet snapshot read'])
    state.failing = false
    await manual.advance(1_000)
    assert.equal(saved.get('me')?.figures.requestsTotal, 4)
    await fleet.stop()
  })
})
