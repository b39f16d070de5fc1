import type { Logger } from './logger.js'

/** A periodic clean-up: deletes what expired before `now`. */
export type HousekeepingTask = (now: number) => Promise<unknown>

type Deps = {
  /** The clean-ups this process runs, by name (used in the log when one fails). */
  tasks: Readonly<Record<string, HousekeepingTask>>
  everyMs: number
  clock: () => number
  logger: Logger
}

/** Runs every task once per `everyMs`; a failed task is logged and tried again next time. */
export function createHousekeeping({ tasks, everyMs, clock, logger }: Deps) {
  let timer: NodeJS.Timeout | undefined
  const run = () => {
    for (const [name, task] of Object.entries(tasks))
      task(clock()).catch((err) => logger.warn({ err, task: name }, 'housekeeping task failed'))
  }
  return {
    start(): void {
      if (timer) return
      timer = setInterval(run, everyMs)
      timer.unref()
    },
    stop(): void {
      clearInterval(timer)
      timer = undefined
    },
  }
}
