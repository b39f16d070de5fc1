import CircuitBreaker from 'opossum'
import type { AdSource, Unit } from '../domain/catalog.js'
import type { AdSourceTransport, UpstreamAd, UpstreamQuery } from './ports/allocation.ports.js'
import type { Logger } from './ports/logger.ports.js'

type Deps = {
  transport: AdSourceTransport
  /** Upper bound for every source call (ms); a source's own timeout_ms may be shorter. */
  deadlineMs: number
  logger: Logger
  /** Breaker tuning; defaults: open at ≥ 50 % failures over ≥ 5 calls in 10 s, retry after 30 s. */
  breaker?: { volumeThreshold?: number; errorThresholdPercentage?: number; resetTimeoutMs?: number }
}

export type AdNetworks = ReturnType<typeof createAdNetworks>

/** A circuit breaker's state, from best to worst. */
export const BREAKER_STATES = ['closed', 'half_open', 'open'] as const
export type BreakerState = (typeof BREAKER_STATES)[number]

/**
 * Asks a unit's upstream ad networks in parallel, each under the deadline and behind its own circuit
 * breaker (opossum): a slow, failing or open source contributes nothing to that response.
 */
export function createAdNetworks({ transport, deadlineMs, logger, breaker = {} }: Deps) {
  const breakers = new Map<string, CircuitBreaker<[UpstreamQuery], UpstreamAd[]>>()
  const breakerNames: [string, CircuitBreaker<[UpstreamQuery], UpstreamAd[]>][] = []

  function breakerFor(source: AdSource): CircuitBreaker<[UpstreamQuery], UpstreamAd[]> {
    const key = `${source.name} ${source.url}`
    let b = breakers.get(key)
    if (!b) {
      const timeout = Math.max(1, Math.min(source.timeout_ms, deadlineMs))
      const call = async (query: UpstreamQuery) => {
        const { status, body } = await transport.postJson(source.url, query, timeout)
        if (status < 200 || status >= 300) throw new Error(`ad source ${source.name} answered ${status}`)
        return parseAds(source, body)
      }
      b = new CircuitBreaker(call, {
        timeout,
        volumeThreshold: breaker.volumeThreshold ?? 5,
        errorThresholdPercentage: breaker.errorThresholdPercentage ?? 50,
        resetTimeout: breaker.resetTimeoutMs ?? 30_000,
        rollingCountTimeout: 10_000,
      })
      b.on('open', () =>
        logger.warn({ source: source.name }, 'ad source circuit opened: not called for a while'),
      )
      b.on('close', () => logger.info({ source: source.name }, 'ad source circuit closed'))
      breakers.set(key, b)
      breakerNames.push([source.name, b])
    }
    return b
  }

  return {
    /** Every source's ads that arrived in time, best eCPM first; never rejects. */
    async fetchAds(unit: Unit, query: UpstreamQuery): Promise<UpstreamAd[]> {
      if (unit.ad_sources.length === 0) return []
      const answers = await Promise.all(
        unit.ad_sources.map((source) =>
          breakerFor(source)
            .fire(query)
            .catch(() => [] as UpstreamAd[]),
        ),
      )
      return answers.flat().sort((a, b) => b.ecpm - a.ecpm)
    },
    /**
     * Each network's breaker state, by source name (the worst one when several units name the same network);
     * only networks asked at least once have a breaker.
     */
    breakerStates(): Map<string, BreakerState> {
      const states = new Map<string, BreakerState>()
      for (const [name, b] of breakerNames) {
        const state: BreakerState = b.opened ? 'open' : b.halfOpen ? 'half_open' : 'closed'
        const before = states.get(name)
        if (!before || BREAKER_STATES.indexOf(state) > BREAKER_STATES.indexOf(before)) states.set(name, state)
      }
      return states
    },
    /** Whether a source's breaker is open (for tests and metrics). */
    isOpen(source: AdSource): boolean {
      return breakers.get(`${source.name} ${source.url}`)?.opened ?? false
    },
    close(): void {
      for (const b of breakers.values()) b.shutdown()
      breakers.clear()
      breakerNames.length = 0
    },
  }
}

const text = (v: unknown, max: number): string | undefined =>
  typeof v === 'string' && v.length <= max ? v : undefined

/** Keeps the well-formed ads of an answer `{"ads": [...]}`; anything else in it is ignored. */
function parseAds(source: AdSource, body: unknown): UpstreamAd[] {
  const ads = (body as { ads?: unknown } | undefined)?.ads
  if (!Array.isArray(ads)) throw new Error(`ad source ${source.name} answered without an ads list`)
  const out: UpstreamAd[] = []
  for (const raw of ads.slice(0, 50)) {
    const ad = raw as Record<string, unknown>
    const id = typeof ad.id === 'number' || typeof ad.id === 'string' ? String(ad.id) : undefined
    const title = text(ad.title, 255)
    const image = text(ad.image, 2048)
    const clickUrl = text(ad.click_url, 2048)
    if (!id || !title || !image || !clickUrl || !/^https?:\/\//.test(clickUrl)) continue
    const impressions = Array.isArray(ad.impression_urls)
      ? ad.impression_urls.filter((u): u is string => typeof u === 'string' && /^https?:\/\//.test(u))
      : []
    out.push({
      source: source.name,
      external_id: id,
      title,
      description: text(ad.description, 1024) ?? '',
      image,
      click_url: clickUrl,
      impression_urls: impressions.slice(0, 10),
      ecpm: typeof ad.ecpm === 'number' && Number.isFinite(ad.ecpm) ? ad.ecpm : 0,
      revenue_type: source.revenue_type,
    })
  }
  return out
}
