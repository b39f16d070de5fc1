/**
 * Where a job's repeating timer comes from: `systemTimers` in the app, a manual implementation in tests
 * (which moves time itself and awaits what `tick` returns, so a test never sleeps).
 */
export type Timers = {
  /** Calls `tick` every `ms` until the returned cancel is called; must not keep the process alive. */
  repeat(ms: number, tick: () => unknown): () => void
}

/** Node's timers, unref'd: background work never holds the process open on its own. */
const systemTimers: Timers = {
  repeat(ms, tick) {
    const timer = setInterval(tick, ms)
    timer.unref()
    return () => clearInterval(timer)
  },
}

/** One job on the scheduler. */
export type ScheduledJob = {
  /** No run starts after this; resolves when the run in flight, if any, has finished. */
  stop(): Promise<void>
}

export type Scheduler = {
  /**
   * Runs `job` every `ms` (the first time `ms` from now) with the clock's time, until stopped. A job still
   * running when its next time comes is not started again (single flight); a job that fails is reported
   * with its name and runs again at its next time.
   */
  every(name: string, ms: number, job: (now: number) => unknown): ScheduledJob
  /** Stops every job still scheduled and waits for their runs in flight. */
  stopAll(): Promise<void>
}

type Deps = {
  clock: () => number
  timers?: Timers
  /** Told of each failed run, with the job's name (logged in the app, collected in tests). */
  onError: (job: string, err: unknown) => void
}

/** The one place background loops are started: named periodic jobs, single flight, errors reported. */
export function createScheduler({ clock, timers = systemTimers, onError }: Deps): Scheduler {
  const jobs = new Set<ScheduledJob>()

  function every(name: string, ms: number, job: (now: number) => unknown): ScheduledJob {
    // A zero or negative period would spin (and hang a manual clock's advance).
    if (!(ms > 0)) throw new RangeError(`job ${name}: period must be positive, got ${ms}`)
    let running: Promise<void> | undefined
    let stopped = false
    const run = async () => {
      try {
        await job(clock())
      } catch (err) {
        onError(name, err)
      }
    }
    const cancel = timers.repeat(ms, () => {
      if (running || stopped) return undefined
      running = run().finally(() => {
        running = undefined
      })
      return running
    })
    const handle: ScheduledJob = {
      stop() {
        if (!stopped) {
          stopped = true
          cancel()
          jobs.delete(handle)
        }
        return running ?? Promise.resolve()
      },
    }
    jobs.add(handle)
    return handle
  }

  return {
    every,
    async stopAll() {
      await Promise.all([...jobs].map((job) => job.stop()))
    },
  }
}

/** `run`, made single flight: a call while a run is in flight shares it; the next call after starts anew. */
export function singleFlight<T>(run: () => Promise<T>): {
  (): Promise<T>
  current(): Promise<T> | undefined
} {
  let inflight: Promise<T> | undefined
  const call = () => {
    inflight ??= run().finally(() => {
      inflight = undefined
    })
    return inflight
  }
  return Object.assign(call, { current: () => inflight })
}

/**
 * A write of what accumulated in memory (report figures, devices seen): every `ms` on the scheduler, on
 * demand, and once more at stop. At most one flush is in flight; stop waits for it, then flushes what
 * is left.
 */
export function createPeriodicFlush(
  scheduler: Scheduler,
  name: string,
  ms: number,
  write: () => Promise<void>,
) {
  const flush = singleFlight(write)
  let job: ScheduledJob | undefined
  return {
    /** Writes what accumulated; a call during a flush shares it. */
    flush: (): Promise<void> => flush(),
    start(): void {
      job ??= scheduler.every(name, ms, flush)
    },
    /** Stops the timer, lets a flush in flight end, then flushes the rest; rejects when that last one fails. */
    async stop(): Promise<void> {
      await job?.stop()
      job = undefined
      await flush.current()?.catch(() => {})
      await flush()
    },
  }
}
