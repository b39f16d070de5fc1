import { counterKeys } from '../domain/counter-keys.js'
import type { CatalogSnapshot, Logger } from './catalog.service.js'

type Counts = { impressions: number; clicks: number }
const ZERO: Counts = Object.freeze({ impressions: 0, clicks: 0 })
const KEYS_PER_READ = 1000

type Deps = {
  counters: { read(keys: readonly string[]): Promise<number[]> }
  catalog: { current(): CatalogSnapshot }
  refreshMs: number
  logger: Logger
}

/**
 * Impression/click totals of every servable content, refreshed in the background: ranking needs CTR but
 * not to the second, so the hot path reads a map instead of the counter store.
 */
export function createCampaignStatsService({ counters, catalog, refreshMs, logger }: Deps) {
  let counts = new Map<number, Counts>()
  let timer: NodeJS.Timeout | undefined

  async function refresh(): Promise<void> {
    const ids = catalog.current().contents.map((e) => e.campaign.id)
    const next = new Map<number, Counts>()
    for (let i = 0; i < ids.length; i += KEYS_PER_READ / 2) {
      const chunk = ids.slice(i, i + KEYS_PER_READ / 2)
      const values = await counters.read(
        chunk.flatMap((id) => [counterKeys.impressions(id), counterKeys.clicks(id)]),
      )
      chunk.forEach((id, j) => {
        const impressions = values[2 * j] ?? 0
        const clicks = values[2 * j + 1] ?? 0
        if (impressions > 0 || clicks > 0) next.set(id, { impressions, clicks })
      })
    }
    counts = next
  }

  return {
    stats: (campaignId: number): Counts => counts.get(campaignId) ?? ZERO,
    refresh,
    start() {
      if (timer) return
      timer = setInterval(() => {
        refresh().catch((err) =>
          logger.warn({ err }, 'campaign stats refresh failed; keeping the previous ones'),
        )
      }, refreshMs)
      timer.unref()
    },
    stop() {
      if (timer) clearInterval(timer)
      timer = undefined
    },
  }
}
