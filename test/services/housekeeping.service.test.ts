import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createHousekeeping } from '../../src/services/housekeeping.service.js'
import { createManualScheduler } from '../helpers/manual-timers.js'

const T0 = Date.UTC(2026, 10, 25, 3)

test('each task runs every everyMs with the time; a failing one is reported by name and the others still run', async () => {
  const { scheduler, advance, errors } = createManualScheduler(T0)
  const purged: [string, number][] = []
  let countersDown = true
  const housekeeping = createHousekeeping({
    tasks: {
      'delivery counters': async (now) => {
        if (countersDown) throw new Error('database down')
        purged.push(['counters', now])
      },
      'device activity': async (now) => void purged.push(['activity', now]),
    },
    everyMs: 600_000,
    scheduler,
  })
  housekeeping.start()
  housekeeping.start()
  await advance(600_000)
  assert.deepEqual(purged, [['activity', T0 + 600_000]], 'started twice, still one run each')
  assert.deepEqual(errors, [['housekeeping: delivery counters', 'database down']])
  countersDown = false
  await advance(600_000)
  assert.deepEqual(purged.slice(1), [
    ['counters', T0 + 1_200_000],
    ['activity', T0 + 1_200_000],
  ])
  await housekeeping.stop()
  await advance(6_000_000)
  assert.equal(purged.length, 3, 'nothing runs after stop')
})
