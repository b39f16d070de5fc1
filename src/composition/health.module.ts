import type { FastifyInstance } from 'fastify'
import { healthRoutes } from '../http/routes/health.routes.js'
import { createReadiness } from '../services/readiness.service.js'
import type { CatalogModule } from './catalog.module.js'
import type { Core } from './core.js'
import type { Infrastructure } from './infrastructure.js'

/** Longest /readyz waits for one dependency; every check runs at once, so it answers within about this. */
const READINESS_TIMEOUT_MS = 800

/**
 * Probes and metrics: /healthz and /readyz on both listeners, /metrics on the internal one, and each
 * dependency's state as a gauge. Ready means the stores of record answer, the catalog is fresh and the
 * process is not closing; Redis down only degrades.
 */
export async function healthModule(
  app: FastifyInstance,
  ops: FastifyInstance,
  core: Core,
  infra: Infrastructure,
  { catalog }: { catalog: CatalogModule['catalog'] },
): Promise<void> {
  const { config, metrics } = core
  const readiness = createReadiness({
    checks: infra.checks,
    optional: infra.optionalChecks,
    timeoutMs: READINESS_TIMEOUT_MS,
    catalogCheckedAt: catalog.checkedAt,
    catalogStaleAfterMs: Math.max(60_000, config.catalogRefreshMs * 5),
    closing: core.closing,
    clock: core.clock,
  })
  // Each probe (a /readyz call, or one a scrape starts) updates what the dependency gauge shows; a scrape
  // never waits on a probe, so /metrics stays fast while a store is down or stalled.
  const names = [...Object.keys(infra.checks), ...Object.keys(infra.optionalChecks)]
  let known: { name: string; up: boolean; required: boolean }[] = []
  const probe = async () => {
    const result = await readiness()
    if (!core.closing())
      known = names.map((name) => ({
        name,
        up: result.checks[name] === 'ok',
        required: name in infra.checks,
      }))
    return result
  }
  let probing = false
  const probeInBackground = () => {
    if (probing) return
    probing = true
    probe()
      .catch(() => {})
      .finally(() => {
        probing = false
      })
  }
  probeInBackground()
  metrics.observeDependencies(() => {
    probeInBackground()
    return known
  })
  await app.register(healthRoutes, { readiness: probe })
  ops.register(healthRoutes, {
    readiness: probe,
    metrics: async () => ({
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    }),
  })
}
