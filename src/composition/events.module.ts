import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import rateLimiter from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { dayPeriod } from '../domain/budget.js'
import { createPayloadReader, createPayloadSigner } from '../domain/payload-signer.js'
import { ID_PATTERN } from '../http/dto/common.dto.js'
import { registerAdminRoutes } from '../http/routes/admin-scope.js'
import { type EventKind, type EventLimiter, eventRoutes } from '../http/routes/event.routes.js'
import { postbackRoutes } from '../http/routes/postback.routes.js'
import { createUndiciTransport } from '../infra/http/postback-transport.js'
import { redisRateLimitStore } from '../infra/redis/rate-limit-store.js'
import { createBudgetLeases } from '../services/budget-leases.service.js'
import { createCounterMirror } from '../services/counter-mirror.service.js'
import { createEventService, type EventService } from '../services/event.service.js'
import { createHousekeeping } from '../services/housekeeping.service.js'
import { createOnceGuard } from '../services/once-guard.service.js'
import { createPostbackWorker } from '../services/postback-worker.service.js'
import type { CatalogModule } from './catalog.module.js'
import type { Core } from './core.js'
import type { DevicesModule } from './devices.module.js'
import type { Infrastructure } from './infrastructure.js'
import type { InsightModule } from './insight.module.js'
import type { Repositories } from './repositories.js'

export type EventsModule = Awaited<ReturnType<typeof eventsModule>>

/** How often expired delivery counters are deleted. */
const PURGE_MS = 600_000
/** How often lapsed budget leases (of processes that died) are reclaimed. */
const BUDGET_RECLAIM_MS = 10_000

/**
 * Events and money: the delivery counters (SQL, mirrored in memory), the payload tokens items carry, the
 * SDK's unlocks, landings, stay rewards and beacons behind a per-device rate limit, and the reward ledger's
 * postbacks with the worker that delivers them (drained on shutdown).
 */
export async function eventsModule(
  app: FastifyInstance,
  core: Core,
  repos: Repositories,
  infra: Infrastructure,
  uses: {
    catalog: CatalogModule['catalog']
    devices: DevicesModule['devices']
    reports: InsightModule['tally']
  },
) {
  const { config, clock } = core
  const counters = createCounterMirror({
    counters: repos.counters,
    clock,
    refreshMs: config.counterRefreshMs,
    flushMs: config.reportFlushMs,
    scheduler: core.scheduler,
  })
  // Without the database at boot the process still starts: counters are reread every COUNTER_REFRESH_MS.
  await counters.refresh().catch((err) => core.degraded('counter refresh at boot', err))
  counters.start()
  core.closeWith(counters.stop)
  const housekeeping = createHousekeeping({
    tasks: {
      'delivery counters': (now) => repos.counters.purgeExpired(now),
      'budget pools of past days': (now) => repos.budgetLeases.purgeDays(dayPeriod(now - 3 * 86_400_000)),
    },
    everyMs: PURGE_MS,
    scheduler: core.scheduler,
  })
  housekeeping.start()
  core.closeWith(housekeeping.stop)

  const budgets = await startBudgetLeases(core, repos)
  const postbacks = startPostbackWorker(app, core, repos)
  const signer = createPayloadSigner(config.payloadSecret)
  const events = createEventService({
    catalog: uses.catalog,
    campaigns: repos.campaigns,
    payloads: createPayloadReader(signer, config.legacyPayloads),
    devices: uses.devices,
    counters,
    budgets,
    once: createOnceGuard({
      shared: repos.shared?.once,
      maxLocal: config.deviceCacheSize,
      onDegraded: core.degraded,
    }),
    reports: uses.reports,
    ledger: repos.rewards,
    deviceLock: repos.shared?.deviceLock,
    clock,
    dailyCounterTtlSeconds: config.dailyCounterTtlSeconds,
    onPostback: () => void postbacks.kick(),
    onDegraded: core.degraded,
  })
  // Registered last, so it runs first at close: the waiting clicks reach the counters, the report tally and
  // the device activity before those write their last batches.
  core.closeWith(events.stop)
  uses.reports.settleBeforeRead(events.settleClicks)

  const limiter = await eventLimiter(app, core, infra, events)
  await app.register(eventRoutes, {
    events,
    limiter,
    onOutcome: (kind, outcome) => core.metrics.events.inc({ kind, outcome }),
  })
  const outbox = {
    list: repos.rewards.list,
    get: repos.rewards.get,
    retry: (id: number) => repos.rewards.retry(id, clock()),
  }
  await registerAdminRoutes(app, config, postbackRoutes, { postbacks: outbox })
  core.metrics.observePostbacks(() =>
    repos.rewards.backlog().catch((err) => {
      core.degraded('postback backlog read', err)
      return undefined
    }),
  )
  return { counters, budgets, signer, events }
}

/**
 * Budgets leased in slices by this process (its name on the leases is unique per start). Lapsed leases of
 * processes that died are reclaimed at start and every BUDGET_RECLAIM_MS; this process's leases are reported
 * every REPORT_FLUSH_MS (which renews them) and given back at shutdown.
 */
async function startBudgetLeases(core: Core, repos: Repositories) {
  const budgets = createBudgetLeases({
    store: repos.budgetLeases,
    scheduler: core.scheduler,
    clock: core.clock,
    holder: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    leaseMs: core.config.budgetLeaseMs,
    reportMs: Math.min(core.config.reportFlushMs, core.config.budgetLeaseMs / 4),
    reclaimMs: Math.min(BUDGET_RECLAIM_MS, core.config.budgetLeaseMs / 2),
  })
  await budgets.reclaim().catch((err) => core.degraded('budget lease reclaim at boot', err))
  core.closeWith(budgets.stop)
  return budgets
}

/**
 * The postback worker of this process. On shutdown it stops claiming at once; deliveries in flight get most
 * of the grace period, then are aborted and their rows released. Awaited in onClose, which runs after the
 * requests in flight have finished and before the database closes.
 */
function startPostbackWorker(app: FastifyInstance, core: Core, repos: Repositories) {
  const { config } = core
  const worker = createPostbackWorker({
    outbox: repos.rewards,
    transport: createUndiciTransport(core.dispatcher),
    clock: core.clock,
    logger: core.logger,
    timeoutMs: config.postbackTimeoutMs,
    pollMs: config.postbackPollMs,
    scheduler: core.scheduler,
  })
  worker.start()
  let draining: Promise<void> = Promise.resolve()
  app.addHook('preClose', async () => {
    draining = worker.stop((config.shutdownGraceMs * 3) / 4)
  })
  core.closeWith(() => draining)
  return worker
}

/**
 * The per-device event rate limit (@fastify/rate-limit's windows; in Redis when configured, in this process
 * while Redis fails). The device is the one the event names: the beacon's is bound in its `data`, so phones
 * behind one address (nginx, carrier NAT) never share a limit; a request naming none is counted against its
 * address, under a ceiling no NAT of working phones reaches. Undefined when the limit is off.
 */
async function eventLimiter(
  app: FastifyInstance,
  core: Core,
  infra: Infrastructure,
  events: EventService,
): Promise<EventLimiter | undefined> {
  const { config, metrics } = core
  if (config.eventRateLimitPerMinute === 0) return undefined
  await app.register(rateLimiter, { global: false })
  const redis = infra.redis
  const store =
    redis &&
    redisRateLimitStore(redis.connection.client, `${redis.prefix}rl:`, (err) =>
      core.degraded('event rate limit in Redis', err),
    )
  const kinds: EventKind[] = ['unlock', 'landing', 'reward', 'impression']
  const limits = new Map(
    kinds.map((kind) => [
      kind,
      app.createRateLimit({
        ...(store ? { store } : {}),
        timeWindow: 60_000,
        keyGenerator: (request) => `${kind}:${eventRateKey(request, kind, events)}`,
        max: (_request, key) =>
          key.includes(':d:') ? config.eventRateLimitPerMinute : config.eventRateLimitPerAddressPerMinute,
      }),
    ]),
  )
  return async (request, kind) => {
    const window = await limits.get(kind)?.(request)
    if (!window || window.isAllowed || !window.isExceeded) return false
    metrics.rateLimited.inc({ route: request.routeOptions.url ?? 'unmatched' })
    return window.key.includes(':d:') ? 'device' : 'address'
  }
}

/** A device id as the event schemas take it (IdText); the key keeps the text, nothing is converted. */
const DEVICE_ID_TEXT = new RegExp(ID_PATTERN)

/** The device an SDK event is about (the beacon's bound in `data`, else `device_id`), else the caller's address. */
function eventRateKey(request: FastifyRequest, kind: EventKind, events: EventService): string {
  let device: number | string | undefined
  if (kind === 'impression') {
    const data = eventField(request, 'data')
    device = typeof data === 'string' ? events.beaconDevice(data) : undefined
  } else {
    const id = eventField(request, 'device_id')
    if (typeof id === 'string' && DEVICE_ID_TEXT.test(id)) device = id
  }
  return device === undefined ? `ip:${request.ip}` : `d:${device}`
}

/**
 * A field of an SDK event: the form body's when it has one, else the query's. Read in place: merging the two
 * with spreads copied every field of both on every event (and a spread followed by more is slow on Node 20).
 */
function eventField(request: FastifyRequest, name: 'device_id' | 'data'): unknown {
  const { body, query } = request
  if (body !== null && typeof body === 'object' && Object.hasOwn(body, name))
    return (body as Record<string, unknown>)[name]
  return query !== null && typeof query === 'object' ? (query as Record<string, unknown>)[name] : undefined
}
