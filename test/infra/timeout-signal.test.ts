import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { withTimeoutSignal } from '../../src/infra/timeout-signal.js'

test('a call still running at its time limit sees its signal abort with a TimeoutError', async () => {
  const started = performance.now()
  let seen: AbortSignal | undefined
  await assert.rejects(
    withTimeoutSignal(30, (signal) => {
      seen = signal
      return sleep(10_000, undefined, { signal })
    }),
  )
  assert.ok(performance.now() - started < 5_000)
  assert.equal(seen?.aborted, true)
  assert.equal((seen?.reason as Error | undefined)?.name, 'TimeoutError')
})

test('a call that ended before its time limit leaves no timer behind: its signal never aborts', async () => {
  let seen: AbortSignal | undefined
  assert.equal(
    await withTimeoutSignal(30, async (signal) => {
      seen = signal
      return 'done'
    }),
    'done',
  )
  await sleep(80)
  assert.equal(seen?.aborted, false)
})

test('a call that failed before its time limit fails with its own error and leaves no timer either', async () => {
  let seen: AbortSignal | undefined
  await assert.rejects(
    withTimeoutSignal(30, async (signal) => {
      seen = signal
      throw new Error('refused')
    }),
    /refused/,
  )
  await sleep(80)
  assert.equal(seen?.aborted, false)
})
