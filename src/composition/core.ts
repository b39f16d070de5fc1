import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Dispatcher } from 'undici'
import type { Config } from '../config/config.js'
import { createMetrics } from '../infra/metrics/metrics.js'
import { createDegradationReport } from '../services/degradation.service.js'
import { createScheduler, type Scheduler } from '../services/scheduler.js'

/** What every feature module is built with: settings, time and chance, the log, metrics and the process's lifecycle. */
export type Core = {
  config: Config
  clock: () => number
  random: () => number
  dispatcher: Dispatcher | undefined
  logger: FastifyBaseLogger
  metrics: ReturnType<typeof createMetrics>
  /** Where a best-effort step that failed is reported (logged, throttled). */
  degraded: (what: string, err: unknown) => void
  /** Told of a part of an allocation left out for its deadline (a metric and a throttled log line). */
  deadlineMissed: (what: string) => void
  /** Runs every background loop (named jobs; tests drive its timers). */
  scheduler: Scheduler
  /** True once the process is shutting down. */
  closing: () => boolean
  /** Runs `stop` when the app closes; closes run in reverse order of registration. */
  closeWith: (stop: () => unknown) => void
}

type Options = {
  config: Config
  clock: () => number
  random: () => number
  dispatcher?: Dispatcher | undefined
}

/**
 * The process-wide pieces every feature shares: metrics (with the request histogram fed here), the
 * degradation report, and the closing state (answers sent while closing end their keep-alive connection).
 */
export function createCore(app: FastifyInstance, { config, clock, random, dispatcher }: Options): Core {
  const metrics = createMetrics(clock)
  const report = createDegradationReport({
    logger: app.log,
    onDeadlineMissed: () => metrics.deadlineMisses.inc(),
  })
  // Every background loop runs on this scheduler. Each module stops its own jobs on close; stopAll is
  // registered before any module's stop, so it runs after them and before the clients close.
  const scheduler = createScheduler({
    clock,
    onError: (job, err) =>
      app.log.warn({ err, job }, 'background job failed; it runs again at its next time'),
  })
  app.addHook('onClose', async () => scheduler.stopAll())
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  const debugRequests = ['debug', 'trace'].includes(config.logLevel)
  // Callbacks, not async functions, on every answer (see prepareHttp).
  app.addHook('onResponse', (request, reply, done) => {
    const labels = { route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }
    metrics.requests.observe(labels, reply.elapsedTime / 1000)
    if (debugRequests)
      request.log.debug(
        { method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime },
        'request completed',
      )
    done()
  })
  app.addHook('onSend', (_request, reply, _payload, done) => {
    // Answers sent while closing end their keep-alive connection cleanly after the response.
    if (closing) reply.header('connection', 'close')
    done()
  })
  return {
    config,
    clock,
    random,
    dispatcher,
    logger: app.log,
    metrics,
    degraded: report.degraded,
    deadlineMissed: report.deadlineMissed,
    scheduler,
    closing: () => closing,
    closeWith: (stop) => app.addHook('onClose', async () => stop()),
  }
}
