import { randomUUID } from 'node:crypto'
import type { AttemptOutcome, PostbackStatus } from '../domain/postback.js'
import type { Outbox, OutboxItem, PostbackTransport } from './ports/events.ports.js'
import type { Logger } from './ports/logger.ports.js'
import type { ScheduledJob, Scheduler } from './scheduler.js'

/** Waits after the 1st..5th failed attempt; a 6th failure marks the row failed. */
export const RETRY_DELAYS_MS = [60_000, 600_000, 3_600_000, 3 * 3_600_000, 24 * 3_600_000] as const
/**
 * Waits between tries to record an outcome the publisher has already answered (about 12.7 s in all, inside
 * the lease's 30 s margin): a row sent but not recorded is sent again once its lease ends.
 */
const RECORD_RETRY_MS = [50, 100, 200, 400, 800, 1_600, 3_200, 6_400] as const
/** Statuses that mean "the publisher has it" (409: it already had it). */
const DELIVERED = new Set([200, 204, 409])

/** What the publisher answered: its status, or the error that stood for one. */
type Answer = { httpStatus: number | null; error: string | null }

/** The outcome of the `attempt`th try: delivered, due again after its retry delay, or failed for good. */
function outcomeOf(attempt: number, { httpStatus, error }: Answer, now: number): AttemptOutcome {
  const delay = RETRY_DELAYS_MS[attempt - 1]
  const status: PostbackStatus = error === null ? 'delivered' : delay === undefined ? 'failed' : 'pending'
  return { status, nextAttemptAt: status === 'pending' ? now + (delay ?? 0) : now, httpStatus, error }
}

type Deps = {
  outbox: Outbox
  transport: PostbackTransport
  clock: () => number
  logger: Logger
  timeoutMs: number
  pollMs: number
  scheduler: Scheduler
  batchSize?: number
}

/**
 * Delivers the postback outbox: claim due rows under a lease, POST each, record the outcome, and schedule
 * retries. A worker that dies mid-delivery loses nothing: its lease ends and another worker sends the row.
 */
export function createPostbackWorker({
  outbox,
  transport,
  clock,
  logger,
  timeoutMs,
  pollMs,
  scheduler,
  batchSize = 20,
}: Deps) {
  const leaseMs = timeoutMs + 30_000
  let polling: ScheduledJob | undefined
  let running: Promise<number> | undefined
  let again = false
  let stopping = false
  /** Aborts the deliveries still in flight when stop's wait is over. */
  const halt = new AbortController()

  /** POSTs one row: the publisher's answer, or undefined when shutdown cut it off (not an attempt). */
  async function send(item: OutboxItem): Promise<Answer | undefined> {
    try {
      const httpStatus = await transport.post(item.url, item.headers, item.body, timeoutMs, halt.signal)
      return { httpStatus, error: DELIVERED.has(httpStatus) ? null : `publisher answered ${httpStatus}` }
    } catch (err) {
      // Cut off by shutdown: the run releases the row, so the next process sends it.
      if (halt.signal.aborted) return undefined
      return { httpStatus: null, error: (err as Error).message || String(err) }
    }
  }

  async function deliver(item: OutboxItem, claim: string, sent: number[]): Promise<void> {
    const answer = await send(item)
    if (!answer) return
    sent.push(item.id)
    const now = clock()
    const outcome = outcomeOf(item.attempts + 1, answer, now)
    const mine = await record(item.id, claim, outcome, now)
    if (!mine) logger.warn({ postback: item.id }, 'postback lease expired before its outcome was recorded')
    else if (outcome.error)
      logger.warn(
        { postback: item.id, attempt: item.attempts + 1, status: outcome.status, error: outcome.error },
        'postback not delivered',
      )
  }

  /**
   * Records an attempt's outcome, trying again while the store fails (a timeout under load, a blip): the
   * publisher has answered, so giving up would send the row again. Safe to repeat, as it only changes a
   * row still under `claim`; a try that timed out but committed makes the next one find the claim gone.
   */
  async function record(id: number, claim: string, outcome: AttemptOutcome, now: number): Promise<boolean> {
    for (let retry = 0; ; retry++) {
      try {
        return await outbox.finishAttempt(id, claim, outcome, now)
      } catch (err) {
        const wait = RECORD_RETRY_MS[retry]
        if (wait === undefined || halt.signal.aborted) throw err
        logger.warn({ postback: id, err }, 'postback outcome not recorded yet; trying again')
        await new Promise((resolve) => setTimeout(resolve, wait))
      }
    }
  }

  /** Delivers one claimed batch; every delivery settles before it ends, so none is sending when released. */
  async function runBatch(due: OutboxItem[], claim: string): Promise<void> {
    const sent: number[] = []
    try {
      const results = stopping ? [] : await Promise.allSettled(due.map((item) => deliver(item, claim, sent)))
      for (const r of results)
        if (r.status === 'rejected') logger.warn({ err: r.reason }, 'postback outcome not recorded')
    } finally {
      // Stopping: rows not sent, or cut off, are due again now rather than when their lease ends; a row
      // sent whose outcome could not be recorded waits for its lease, in case the store comes back.
      if (stopping) await outbox.release(claim, clock(), sent)
    }
  }

  /** Delivers what is due, batch by batch, until none is or stop() is called; resolves with the count. */
  async function runOnce(): Promise<number> {
    let attempted = 0
    while (!stopping) {
      const claim = randomUUID()
      const due = await outbox.claimDue(clock(), batchSize, leaseMs, claim)
      if (due.length === 0) break
      await runBatch(due, claim)
      attempted += due.length
    }
    return attempted
  }

  /** One run at a time per process; a kick during a run makes one more run after it. */
  function kick(): Promise<number> {
    if (stopping) return Promise.resolve(0)
    if (running) {
      again = true
      return running
    }
    running = runOnce()
      .catch((err) => {
        logger.warn({ err }, 'postback run failed')
        return 0
      })
      .finally(() => {
        running = undefined
        if (again) {
          again = false
          void kick()
        }
      })
    return running
  }

  return {
    runOnce,
    kick,
    /** Polls the outbox every `pollMs` (an event kicks it at once; the poll picks up retries coming due). */
    start() {
      polling ??= scheduler.every('postback delivery', pollMs, kick)
    },
    /**
     * Stops claiming and waits for the deliveries in flight (each bounded by the timeout), at most `waitMs`:
     * then they are aborted. Either way no row is left under a claim, so nothing is sent twice.
     */
    async stop(waitMs = Number.POSITIVE_INFINITY) {
      stopping = true
      // Not awaited: the run in flight is `running`, waited for below within `waitMs`.
      void polling?.stop()
      polling = undefined
      again = false
      const run = running
      if (!run) return
      const cutoff = Number.isFinite(waitMs) ? setTimeout(() => halt.abort(), waitMs) : undefined
      try {
        await run
      } finally {
        clearTimeout(cutoff)
      }
    },
  }
}
