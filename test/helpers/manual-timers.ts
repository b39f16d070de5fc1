import { createScheduler, type Timers } from '../../src/services/scheduler.js'

type Repeating = { ms: number; due: number; tick: () => unknown }

/**
 * Timers whose time moves only when the test says so. `advance(ms)` fires every timer that falls due, in
 * time order (ties in the order they were set), with the clock at its due time, and awaits what each tick
 * returns (the job's run) before moving on: no sleeps, and the same outcome on every run.
 */
export function createManualTimers(start = 0) {
  let now = start
  let nextId = 0
  const repeating = new Map<number, Repeating>()
  /** Runs fired by `advance(ms, { wait: false })`, for `settle`. */
  let unawaited: unknown[] = []

  const timers: Timers = {
    repeat(ms, tick) {
      const id = nextId++
      repeating.set(id, { ms, due: now + ms, tick })
      return () => repeating.delete(id)
    },
  }

  function nextDue(until: number): Repeating | undefined {
    let next: Repeating | undefined
    for (const timer of repeating.values())
      if (timer.due <= until && (!next || timer.due < next.due)) next = timer
    return next
  }

  /**
   * Moves the clock `ms` forward, firing what falls due. With `wait: false` the runs it starts are not
   * awaited (to hold a run open while time moves on, as when a job outlasts its period): `settle` does.
   */
  async function advance(ms: number, { wait = true } = {}): Promise<void> {
    const until = now + ms
    for (let next = nextDue(until); next; next = nextDue(until)) {
      now = next.due
      next.due += next.ms
      const run = next.tick()
      if (wait) await run
      else unawaited.push(run)
    }
    now = until
  }

  /** Waits for the runs `advance(ms, { wait: false })` started. */
  async function settle(): Promise<void> {
    const runs = unawaited
    unawaited = []
    await Promise.all(runs)
  }

  return {
    timers,
    clock: () => now,
    advance,
    settle,
    /** Timers set and not cancelled. */
    pending: () => repeating.size,
  }
}

/** A scheduler on manual timers; the errors its jobs reported are collected as `[job, message]`. */
export function createManualScheduler(start = 0) {
  const manual = createManualTimers(start)
  const errors: [string, string][] = []
  const scheduler = createScheduler({
    clock: manual.clock,
    timers: manual.timers,
    onError: (job, err) => errors.push([job, (err as Error).message]),
  })
  return { ...manual, scheduler, errors }
}
