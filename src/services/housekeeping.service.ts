import type { ScheduledJob, Scheduler } from './scheduler.js'

/** A periodic clean-up: deletes what expired before `now`. */
export type HousekeepingTask = (now: number) => Promise<unknown>

type Deps = {
  /** The clean-ups this process runs, by name (the job's name when one fails). */
  tasks: Readonly<Record<string, HousekeepingTask>>
  everyMs: number
  scheduler: Scheduler
}

/** Runs every task once per `everyMs`, each its own job: a failed task is reported and tried again next time. */
export function createHousekeeping({ tasks, everyMs, scheduler }: Deps) {
  let jobs: ScheduledJob[] | undefined
  return {
    start(): void {
      jobs ??= Object.entries(tasks).map(([name, task]) =>
        scheduler.every(`housekeeping: ${name}`, everyMs, task),
      )
    },
    /** Stops the tasks; resolves when those in flight have finished. */
    async stop(): Promise<void> {
      const stopping = jobs ?? []
      jobs = undefined
      await Promise.all(stopping.map((job) => job.stop()))
    },
  }
}
