import { counterKeys, utcDay } from '../domain/counter-keys.js'
import { hasBudget } from '../domain/delivery.js'
import type { CatalogSnapshot, Logger } from './catalog.service.js'

/** The shared counter store as the mirror needs it (Redis in production, in-process when embedded). */
export type CounterBackend = {
  increment(key: string, by: number, ttlSeconds?: number): Promise<number>
  read(keys: readonly string[]): Promise<number[]>
}

export type CampaignTotals = { impressions: number; clicks: number }

export type CounterMirror = CounterBackend & {
  /** The last known value of a counter, without I/O (0 when unknown). */
  value(key: string): number
  /** The last known impression and click totals of a campaign (for CTR), by numeric id. */
  totals(campaignId: number): CampaignTotals
  /** Rereads every counter allocation needs: CTR totals of contents and delivery of budgeted campaigns. */
  refresh(): Promise<void>
  start(): void
  stop(): void
}

type Deps = {
  counters: CounterBackend
  catalog: { current(): CatalogSnapshot }
  clock: () => number
  refreshMs: number
  logger: Logger
}

const KEYS_PER_READ = 1000
/** `imp:<id>` / `clk:<id>` (totals; daily keys carry a third part). */
const TOTAL_KEY = /^(imp|clk):(\d+)$/
const NONE: CampaignTotals = Object.freeze({ impressions: 0, clicks: 0 })

/**
 * Keeps the counters allocation reads (CTR, budget delivery) in memory so the hot path never waits on the
 * counter store. Increments made through this process update the mirror at once with the store's answer;
 * increments made by other processes arrive with the next refresh (every `refreshMs`).
 */
export function createCounterMirror({ counters, catalog, clock, refreshMs, logger }: Deps): CounterMirror {
  let values = new Map<string, number>()
  let totals = new Map<number, CampaignTotals>()
  let timer: NodeJS.Timeout | undefined

  function trackedKeys(): string[] {
    const snapshot = catalog.current()
    const day = utcDay(clock())
    const keys: string[] = []
    for (const { campaign: c } of snapshot.contents)
      keys.push(counterKeys.impressions(c.id), counterKeys.clicks(c.id))
    for (const { campaign: c } of [...snapshot.ads, ...snapshot.contents]) {
      if (!hasBudget(c)) continue
      if (c.budget_type === 'click') keys.push(counterKeys.clicks(c.id), counterKeys.dailyClicks(c.id, day))
      else keys.push(counterKeys.impressions(c.id), counterKeys.dailyImpressions(c.id, day))
    }
    return [...new Set(keys)]
  }

  async function refresh(): Promise<void> {
    const keys = trackedKeys()
    const tracked = new Set(keys)
    const next = new Map<string, number>()
    for (let i = 0; i < keys.length; i += KEYS_PER_READ) {
      const chunk = keys.slice(i, i + KEYS_PER_READ)
      const read = await counters.read(chunk)
      chunk.forEach((key, j) => {
        const v = read[j] ?? 0
        if (v !== 0) next.set(key, v)
      })
    }
    // Keep increments that landed while the refresh was reading (they are newer than what it read).
    for (const [key, v] of values) if (tracked.has(key) && (next.get(key) ?? 0) < v) next.set(key, v)
    values = next
    totals = totalsOf(next)
  }

  function totalsOf(counts: ReadonlyMap<string, number>): Map<number, CampaignTotals> {
    const byCampaign = new Map<number, CampaignTotals>()
    for (const [key, v] of counts) {
      const m = TOTAL_KEY.exec(key)
      if (!m) continue
      const id = Number(m[2])
      const entry = byCampaign.get(id) ?? { impressions: 0, clicks: 0 }
      if (m[1] === 'imp') entry.impressions = v
      else entry.clicks = v
      byCampaign.set(id, entry)
    }
    return byCampaign
  }

  return {
    value: (key) => values.get(key) ?? 0,
    totals: (campaignId) => totals.get(campaignId) ?? NONE,
    async increment(key, by, ttlSeconds) {
      const total = await counters.increment(key, by, ttlSeconds)
      values.set(key, total)
      const m = TOTAL_KEY.exec(key)
      if (m) {
        const id = Number(m[2])
        const entry = { ...(totals.get(id) ?? NONE) }
        if (m[1] === 'imp') entry.impressions = total
        else entry.clicks = total
        totals.set(id, entry)
      }
      return total
    },
    read: (keys) => counters.read(keys),
    refresh,
    start() {
      if (timer) return
      timer = setInterval(() => {
        refresh().catch((err) => logger.warn({ err }, 'counter refresh failed; keeping the previous values'))
      }, refreshMs)
      timer.unref()
    },
    stop() {
      if (timer) clearInterval(timer)
      timer = undefined
    },
  }
}
