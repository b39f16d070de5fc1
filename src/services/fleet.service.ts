import {
  type FleetTotal,
  fleetTotal,
  type InstanceFigures,
  instanceFigures,
  type LiveCounters,
} from '../domain/fleet.js'
import type { ScheduledJob, Scheduler } from './scheduler.js'

/** Where every instance publishes its figures and reads the others' (Redis when configured, else SQL). */
export type FleetStore = {
  /** Writes (or replaces) one instance's figures, to be ignored after `expiresAt`. */
  save(figures: InstanceFigures, expiresAt: number): Promise<void>
  /** The figures of every instance that have not expired at `now`, in any order. */
  list(now: number): Promise<InstanceFigures[]>
  /** Drops one instance's figures (it is stopping). */
  remove(instanceId: string): Promise<void>
}

/** The live view of the fleet: each instance's figures and their sum. */
export type FleetView = {
  /** The instance that answered. */
  self: string
  periodMs: number
  /** True when the shared store could not be read: only this instance shows. */
  partial: boolean
  instances: InstanceFigures[]
  total: FleetTotal
}

/** Figures older than this many periods are ignored (their instance stopped or cannot write). */
export const STALE_PERIODS = 5

/** Rates are read over about this long (or since the process started, when that is shorter). */
const WINDOW_MS = 10_000

/** The postback backlog (a SQL read of the outbox) is read for publishing at most this often. */
const BACKLOG_EVERY_MS = 10_000

type Deps = {
  store: FleetStore
  instanceId: string
  /** This process's counters since it started (the metrics registry's live snapshot); with the outbox backlog or not. */
  read: (options: { postbacks: boolean }) => Promise<LiveCounters>
  clock: () => number
  periodMs: number
  scheduler: Scheduler
  /** Told of a write or read of the store that failed (logged, throttled). */
  degraded: (what: string, err: unknown) => void
}

/**
 * Every period, this instance reads its own counters and publishes its figures over the last window to the
 * shared store; the view reads every fresh instance's figures back and sums them. This instance's own entry
 * is always computed on the spot, so the view shows it even before its first write or while the store is down.
 */
export function createFleetView(deps: Deps) {
  const readings: LiveCounters[] = []
  let job: ScheduledJob | undefined
  let backlog: { at: number; value: LiveCounters['postbacks'] } | undefined

  /**
   * This instance's figures now, against the oldest reading still inside the window. The outbox backlog is
   * read when asked for or when the last reading is old; else the last one is carried.
   */
  async function current(fresh: boolean): Promise<{ reading: LiveCounters; figures: InstanceFigures }> {
    const postbacks = fresh || !backlog || deps.clock() - backlog.at >= BACKLOG_EVERY_MS
    const reading = await deps.read({ postbacks })
    if (postbacks) backlog = { at: reading.at, value: reading.postbacks }
    while (readings.length > 1 && reading.at - (readings[1] as LiveCounters).at >= WINDOW_MS) readings.shift()
    const figures = instanceFigures(deps.instanceId, reading, readings[0])
    return { reading, figures: { ...figures, postbacks: backlog?.value ?? null } }
  }

  async function publish(): Promise<void> {
    const { reading, figures } = await current(false)
    readings.push(reading)
    await deps.store.save(figures, figures.at + STALE_PERIODS * deps.periodMs)
  }

  return {
    instanceId: deps.instanceId,
    start(): void {
      job ??= deps.scheduler.every('fleet-snapshot', deps.periodMs, async () => {
        try {
          await publish()
        } catch (err) {
          deps.degraded('fleet snapshot write', err)
        }
      })
    },
    /** Stops publishing and takes this instance off the view at once (else it fades after a few periods). */
    async stop(): Promise<void> {
      await job?.stop()
      job = undefined
      await deps.store.remove(deps.instanceId).catch((err) => deps.degraded('fleet snapshot removal', err))
    },
    async view(): Promise<FleetView> {
      const { figures: mine } = await current(true)
      let others: InstanceFigures[] = []
      let partial = false
      try {
        others = (await deps.store.list(deps.clock())).filter((f) => f.instanceId !== deps.instanceId)
      } catch (err) {
        partial = true
        deps.degraded('fleet snapshot read', err)
      }
      const instances = [mine, ...others].sort((a, b) => a.instanceId.localeCompare(b.instanceId))
      return {
        self: deps.instanceId,
        periodMs: deps.periodMs,
        partial,
        instances,
        total: fleetTotal(instances),
      }
    },
  }
}
