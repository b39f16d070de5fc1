import type { Campaign } from './catalog.js'
import type { CatalogEntry } from './catalog-snapshot.js'
import { CONTENT_WEIGHTS, type ContentSignals, contentScore } from './ranking.js'

/**
 * The servable ads that can reach the pool. Ad buckets are sorted by priority (highest first) and ranking
 * takes whole tiers first, so once the tiers scanned so far hold `limit` servable ads, lower tiers cannot
 * reach the pool: the scan stops there.
 */
export function adCandidates(
  buckets: readonly (readonly CatalogEntry[])[],
  servable: (e: CatalogEntry) => boolean,
  limit: number,
): CatalogEntry[] {
  const at = buckets.map(() => 0)
  const out: CatalogEntry[] = []
  while (out.length < limit) {
    let tier = Number.NEGATIVE_INFINITY
    for (let b = 0; b < buckets.length; b++) {
      const head = (buckets[b] as readonly CatalogEntry[])[at[b] as number]
      if (head && head.campaign.first_display_priority > tier) tier = head.campaign.first_display_priority
    }
    if (tier === Number.NEGATIVE_INFINITY) break
    for (let b = 0; b < buckets.length; b++) {
      const list = buckets[b] as readonly CatalogEntry[]
      let i = at[b] as number
      for (; i < list.length && (list[i] as CatalogEntry).campaign.first_display_priority === tier; i++) {
        if (servable(list[i] as CatalogEntry)) out.push(list[i] as CatalogEntry)
      }
      at[b] = i
    }
  }
  return out
}

/** How long a content bucket's score bounds are reused (counters move between rebuilds). */
const BOUND_TTL_MS = 1_000

type Bounds = { at: number; entries: CatalogEntry[]; ub: Float64Array }

/**
 * Walks content buckets best bound first and stops once no remaining item can enter the top `limit`.
 * A bucket's bound is the best score any device could give an item (favourite category, unseen) as of
 * its build; freshness only decays, so the bound holds until the counters move. Bounds are kept per
 * bucket array for BOUND_TTL_MS (a new snapshot brings new arrays; a clock going back rebuilds them).
 */
export function createContentWalker(totals: (campaignId: number) => { impressions: number; clicks: number }) {
  const bounds = new WeakMap<readonly CatalogEntry[], Bounds>()

  function boundsOf(bucket: readonly CatalogEntry[], now: number): Bounds {
    const known = bounds.get(bucket)
    if (known && now >= known.at && now - known.at < BOUND_TTL_MS) return known
    const scored = bucket.map((e) => ({
      e,
      ub: contentScore(e.campaign, { ...totals(e.campaign.id), affinity: 1, seen: false }, now),
    }))
    scored.sort((a, b) => b.ub - a.ub)
    const fresh = { at: now, entries: scored.map((s) => s.e), ub: Float64Array.from(scored, (s) => s.ub) }
    bounds.set(bucket, fresh)
    return fresh
  }

  /**
   * The servable contents that can still reach the top `limit`; `hasAffinity` says whether the device
   * has category scores (without them every bound drops by the same amount, so the order stays).
   */
  return function contentCandidates(
    buckets: readonly (readonly CatalogEntry[])[],
    servable: (e: CatalogEntry) => boolean,
    signals: (c: Campaign) => ContentSignals,
    hasAffinity: boolean,
    now: number,
    limit: number,
  ): CatalogEntry[] {
    const lists = buckets.map((b) => boundsOf(b, now))
    const at = lists.map(() => 0)
    const slack = hasAffinity ? 0 : CONTENT_WEIGHTS.affinity
    // The best `limit` exact scores seen so far, ascending; best[0] is the bar to beat once full.
    const best: number[] = []
    const out: CatalogEntry[] = []
    for (;;) {
      let pick = -1
      for (let b = 0; b < lists.length; b++) {
        const list = lists[b] as Bounds
        const i = at[b] as number
        if (
          i < list.entries.length &&
          (pick < 0 || (list.ub[i] as number) > ((lists[pick] as Bounds).ub[at[pick] as number] as number))
        )
          pick = b
      }
      if (pick < 0) break
      const list = lists[pick] as Bounds
      const i = at[pick] as number
      at[pick] = i + 1
      if (best.length === limit && (list.ub[i] as number) - slack < (best[0] as number)) break
      const entry = list.entries[i] as CatalogEntry
      if (!servable(entry)) continue
      out.push(entry)
      const score = contentScore(entry.campaign, signals(entry.campaign), now)
      if (best.length < limit) best.splice(sortedIndex(best, score), 0, score)
      else if (score > (best[0] as number)) {
        best.shift()
        best.splice(sortedIndex(best, score), 0, score)
      }
    }
    return out
  }
}

/** Where `value` goes in the ascending array `sorted`. */
function sortedIndex(sorted: readonly number[], value: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((sorted[mid] as number) < value) lo = mid + 1
    else hi = mid
  }
  return lo
}
