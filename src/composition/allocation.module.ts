import type { FastifyInstance } from 'fastify'
import { createAllocationPresenter } from '../http/presenters/allocation.presenter.js'
import { registerAdminRoutes } from '../http/routes/admin-scope.js'
import { allocationRoutes, explainRoutes } from '../http/routes/allocation.routes.js'
import { createJsonTransport } from '../infra/http/json-transport.js'
import { createAdNetworks } from '../services/ad-network.service.js'
import { createAllocationService } from '../services/allocation.service.js'
import type { CatalogModule } from './catalog.module.js'
import type { Core } from './core.js'
import type { DevicesModule } from './devices.module.js'
import type { EventsModule } from './events.module.js'
import type { InsightModule } from './insight.module.js'
import type { Repositories } from './repositories.js'

type Uses = {
  catalog: CatalogModule['catalog']
  devices: DevicesModule
  events: Pick<EventsModule, 'counters' | 'budgets' | 'signer'>
  insight: InsightModule
}

/**
 * Allocation: the ranked pool for one device on one unit from the catalog snapshot, the device's cached
 * data, the delivery counters and the unit's upstream ad networks (each behind its circuit breaker), shaped
 * into the v1 answer; and the decision explainer, which runs the same decision.
 */
export async function allocationModule(app: FastifyInstance, core: Core, repos: Repositories, uses: Uses) {
  const { config, clock, metrics } = core
  const adNetworks = createAdNetworks({
    transport: createJsonTransport(core.dispatcher),
    deadlineMs: config.upstreamDeadlineMs,
    logger: core.logger,
  })
  core.closeWith(adNetworks.close)
  metrics.observeBreakers(() => adNetworks.breakerStates())
  const { devices, installedApps } = uses.devices
  const allocation = createAllocationService({
    upstream: adNetworks,
    installed: installedApps,
    catalog: uses.catalog,
    clock,
    random: core.random,
    // The explainer inspects the store itself: its truth, and nothing gets cached or recorded.
    devices: { load: devices.load, peek: devices.peek, inspect: devices.inspect },
    campaigns: repos.campaigns,
    counters: uses.events.counters,
    budgetExhausted: uses.events.budgets.exhausted,
    deadlineMs: config.allocationDeadlineMs,
    onDeadline: core.deadlineMissed,
  })

  await app.register(allocationRoutes, {
    allocation,
    presenter: createAllocationPresenter({ signer: uses.events.signer, publicBaseUrl: config.publicBaseUrl }),
    onAllocated: uses.insight.observe,
  })
  await registerAdminRoutes(app, config, explainRoutes, { explain: allocation.explain })
}
