import type { FastifyInstance } from 'fastify'
import { catalogAdminRoutes } from '../http/routes/admin.routes.js'
import { registerAdminRoutes } from '../http/routes/admin-scope.js'
import { contentRoutes } from '../http/routes/content.routes.js'
import { createAdminService } from '../services/admin.service.js'
import { createCatalogService } from '../services/catalog.service.js'
import { createContentService } from '../services/content.service.js'
import type { Core } from './core.js'
import { seedDemoData } from './demo-data.js'
import type { Infrastructure } from './infrastructure.js'
import type { Repositories } from './repositories.js'

export type CatalogModule = Awaited<ReturnType<typeof catalogModule>>

/**
 * The catalog: units, campaigns, categories and channels as an in-memory snapshot every process reloads
 * (polled, and at once on a change another instance announces through Redis), the admin API that edits it
 * (and seeds the demo data), and the SDK's content config, channels and categories.
 */
export async function catalogModule(
  app: FastifyInstance,
  core: Core,
  repos: Repositories,
  infra: Infrastructure,
) {
  const { config, clock, logger } = core
  const catalog = createCatalogService({
    store: {
      catalogVersion: repos.campaigns.catalogVersion,
      listUnits: repos.units.all,
      eachServableCampaign: repos.campaigns.eachServableCampaign,
      listCategories: repos.categories.all,
      listChannels: repos.channels.all,
    },
    refreshMs: config.catalogRefreshMs,
    clock,
    scheduler: core.scheduler,
  })
  const changes = infra.redis?.catalog
  const admin = createAdminService({
    units: repos.units,
    campaigns: repos.campaigns,
    categories: repos.categories,
    channels: repos.channels,
    onCatalogChange: async () => {
      await catalog.reload()
      // Other instances reload at once instead of at their next poll (which they still do): the message is
      // sent, not waited for, so an admin write never waits on Redis.
      changes?.publish('changed').catch((err) => core.degraded('catalog change publish', err))
    },
  })
  // Also once the subscription is in place (and after Redis reconnected): a change announced while it was
  // not would otherwise wait for the next poll (CATALOG_REFRESH_MS).
  changes?.subscribe(catalog.reloadUntilDone, catalog.reloadUntilDone)
  if (config.seedDemoData && (await seedDemoData(admin, clock())))
    logger.info('seeded the demo catalog (unit 1001)')
  await catalog.reload()
  catalog.start()
  core.closeWith(catalog.stop)
  core.metrics.observeCatalog(() => {
    const c = catalog.current()
    return { ads: c.ads.length, contents: c.contents.length, ageMs: clock() - c.loadedAt }
  })

  await app.register(contentRoutes, {
    content: createContentService({ configs: repos.contentConfigs, catalog }),
  })
  await registerAdminRoutes(app, config, catalogAdminRoutes, { admin })
  return { catalog }
}
