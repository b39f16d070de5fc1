import { topK } from '../lib/top-k.js'
import type { ServedCampaign } from './catalog.js'

/* Ads are ranked as they are picked, tier by tier: see pickAds in src/lib/pool-scan.ts. */

/** What content ranking knows about one campaign and the device. */
export type ContentSignals = {
  impressions: number
  clicks: number
  /** The device's affinity for the campaign's categories, 0 (none) to 1 (its favourite). */
  affinity: number
  /** Whether the device already had an impression of it. */
  seen: boolean
}

/** Prior for CTR smoothing: as if every content started with 1 click in 50 impressions. */
const CTR_PRIOR = { clicks: 1, impressions: 50 }
/** Weights of the content score's terms; see README "How allocation decides". */
const CONTENT_WEIGHTS = { ctr: 1, weight: 0.3, affinity: 0.8, freshness: 1, seen: 2 }
/** Freshness halves every this many hours since publication. */
const FRESHNESS_HALF_LIFE_HOURS = 12

/**
 * Content score = ln(smoothed CTR / prior CTR) + 0.3·ln(1 + display_weight) + 0.8·affinity
 * + 1·freshness − 2·seen, with smoothed CTR = (clicks + 1) / (impressions + 50) and
 * freshness = 2^(−age hours / 12).
 */
export function contentScore(c: ServedCampaign, s: ContentSignals, now: number): number {
  const prior = CTR_PRIOR.clicks / CTR_PRIOR.impressions
  const ctr = (s.clicks + CTR_PRIOR.clicks) / (s.impressions + CTR_PRIOR.impressions)
  const ageHours = Math.max(0, now - (c.published_at ?? c.start_date)) / 3_600_000
  const freshness = 2 ** (-ageHours / FRESHNESS_HALF_LIFE_HOURS)
  const w = CONTENT_WEIGHTS
  return (
    w.ctr * Math.log(ctr / prior) +
    w.weight * Math.log1p(Math.max(0, c.display_weight)) +
    w.affinity * s.affinity +
    w.freshness * freshness -
    (s.seen ? w.seen : 0)
  )
}

/**
 * The best score any device could give a content as of `now` (its favourite category, never seen): a
 * bound that only falls as time passes, so a bucket of contents can be walked best bound first.
 */
export function contentScoreBound(
  c: ServedCampaign,
  totals: { impressions: number; clicks: number },
  now: number,
): number {
  return contentScore(
    c,
    { impressions: totals.impressions, clicks: totals.clicks, affinity: 1, seen: false },
    now,
  )
}

/** What a device without category scores cannot reach of any content's bound (the affinity term). */
export const NO_AFFINITY_SLACK = CONTENT_WEIGHTS.affinity

/** The best `limit` contents, best score first (ties: newer first, then lower id). */
export function rankContents<T extends { readonly campaign: ServedCampaign }>(
  contents: Iterable<T>,
  signals: (c: ServedCampaign) => ContentSignals,
  now: number,
  limit: number,
): T[] {
  const scored: { c: ServedCampaign; item: T; score: number }[] = []
  for (const item of contents) {
    const c = item.campaign
    scored.push({ c, item, score: contentScore(c, signals(c), now) })
  }
  return topK(
    scored,
    limit,
    (a, b) =>
      b.score - a.score ||
      (b.c.published_at ?? b.c.start_date) - (a.c.published_at ?? a.c.start_date) ||
      a.c.id - b.c.id,
  ).map((s) => s.item)
}

/** The device's highest category score (the scale of affinities). */
export function topScore(scores: Readonly<Record<string, number>>): number {
  let top = 0
  for (const v of Object.values(scores)) if (v > top) top = v
  return top
}

/** Affinity of a device for a campaign: its best category score relative to the device's top score. */
export function categoryAffinity(
  categories: readonly string[],
  scores: Readonly<Record<string, number>>,
  top: number,
): number {
  if (top <= 0) return 0
  let best = 0
  for (const cat of categories) best = Math.max(best, scores[cat] ?? 0)
  return Math.max(0, best / top)
}
