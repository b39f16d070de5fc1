import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createPeriodicFlush, singleFlight } from '../../src/services/scheduler.js'
import { createManualScheduler } from '../helpers/manual-timers.js'

/** A promise the test settles by hand. */
function gate() {
  let open: () => void = () => {}
  let fail: (err: Error) => void = () => {}
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve
    fail = reject
  })
  return { promise, open, fail }
}

describe('scheduler', () => {
  test('a job runs every period, first one period from now, with the clock at its time', async () => {
    const { scheduler, advance } = createManualScheduler(1_000)
    const runs: number[] = []
    scheduler.every('tick', 100, (now) => void runs.push(now))
    await advance(99)
    assert.deepEqual(runs, [])
    await advance(251)
    assert.deepEqual(runs, [1_100, 1_200, 1_300])
  })

  test('a job still running when its time comes again is not started twice', async () => {
    const { scheduler, advance, settle } = createManualScheduler()
    let started = 0
    let held = gate()
    scheduler.every('slow', 100, () => {
      started++
      return held.promise
    })
    await advance(350, { wait: false })
    assert.equal(started, 1, 'the ticks at 200 and 300 found it running')
    held.open()
    await settle()
    held = gate()
    await advance(100, { wait: false })
    assert.equal(started, 2, 'once it finished, the next tick starts it again')
    held.open()
    await settle()
  })

  test('a failed run is reported with the job name, and the job runs again next time', async () => {
    const { scheduler, advance, errors } = createManualScheduler()
    let calls = 0
    scheduler.every('flaky', 100, async () => {
      calls++
      if (calls === 1) throw new Error('store down')
    })
    scheduler.every('throws at once', 100, () => {
      throw new Error('sync failure')
    })
    await advance(200)
    assert.equal(calls, 2)
    assert.deepEqual(errors, [
      ['flaky', 'store down'],
      ['throws at once', 'sync failure'],
      ['throws at once', 'sync failure'],
    ])
  })

  test('stop cancels the timer and waits for the run in flight; stopAll stops what is left', async () => {
    const { scheduler, advance, pending } = createManualScheduler()
    const held = gate()
    let finished = false
    let runs = 0
    const slow = scheduler.every('slow', 100, async () => {
      await held.promise
      finished = true
    })
    scheduler.every('other', 100, () => void runs++)
    await advance(100, { wait: false })
    const stopped = slow.stop()
    assert.equal(pending(), 1, 'its timer is gone')
    let settled = false
    void stopped.then(() => (settled = true))
    await Promise.resolve()
    assert.equal(settled, false, 'stop waits for the run in flight')
    held.open()
    await stopped
    assert.ok(finished)
    await scheduler.stopAll()
    assert.equal(pending(), 0)
    await advance(1_000)
    assert.equal(runs, 1, 'nothing runs after stopAll')
  })

  test('a job can stop itself from inside its run', async () => {
    const { scheduler, advance, pending } = createManualScheduler()
    let runs = 0
    const job = scheduler.every('once', 100, () => {
      runs++
      void job.stop()
    })
    await advance(500)
    assert.equal(runs, 1)
    assert.equal(pending(), 0)
  })

  test('a period that is not positive is refused', () => {
    const { scheduler } = createManualScheduler()
    assert.throws(() => scheduler.every('spin', 0, () => {}), RangeError)
  })
})

describe('single flight', () => {
  test('calls during a run share it; a call after it settles starts another', async () => {
    let runs = 0
    const held = gate()
    const once = singleFlight(async () => {
      runs++
      await held.promise
      return runs
    })
    const [a, b] = [once(), once()]
    assert.equal(once.current(), a)
    held.open()
    assert.deepEqual(await Promise.all([a, b]), [1, 1])
    assert.equal(once.current(), undefined)
    assert.equal(await once(), 2)
  })
})

describe('periodic flush', () => {
  test('flushes every period; stop waits for the flush in flight, then flushes what came since', async () => {
    const { scheduler, advance, errors } = createManualScheduler()
    const written: number[][] = []
    let pending: number[] = []
    let held: ReturnType<typeof gate> | undefined
    const flusher = createPeriodicFlush(scheduler, 'numbers flush', 1_000, async () => {
      if (pending.length === 0) return
      const batch = pending
      pending = []
      await held?.promise
      written.push(batch)
    })
    flusher.start()
    pending.push(1, 2)
    await advance(1_000)
    assert.deepEqual(written, [[1, 2]])
    pending.push(3)
    held = gate()
    await advance(1_000, { wait: false })
    pending.push(4)
    const stopping = flusher.stop()
    held.open()
    held = undefined
    await stopping
    assert.deepEqual(written, [[1, 2], [3], [4]], 'the flush in flight, then one more for the rest')
    assert.deepEqual(errors, [])
  })

  test('stop rejects when the last flush fails, so the caller can say what was lost', async () => {
    const { scheduler } = createManualScheduler()
    const flusher = createPeriodicFlush(scheduler, 'numbers flush', 1_000, async () => {
      throw new Error('store down')
    })
    flusher.start()
    await assert.rejects(flusher.stop(), /store down/)
  })
})
