import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Campaign, ServedCampaign } from '../../src/domain/catalog.js'
import { type CatalogEntry, catalogEntry } from '../../src/domain/catalog-snapshot.js'
import { campaignDraft } from '../../src/domain/drafts.js'
import { contentScore, contentScoreBound, NO_AFFINITY_SLACK, rankContents } from '../../src/domain/ranking.js'
import { createContentWalker, pickAds, SAMPLED_TIER } from '../../src/lib/pool-scan.js'

const NOW = Date.UTC(2026, 10, 25)
let id = 1
const entry = (fields: Partial<Campaign>): CatalogEntry =>
  catalogEntry({
    ...campaignDraft({ name: 'c', type: 'I', start_date: 0, end_date: NOW * 2 }),
    id: id++,
    created_at: 0,
    updated_at: 0,
    ...fields,
  })

const byPriority = (a: CatalogEntry, b: CatalogEntry) =>
  b.campaign.first_display_priority - a.campaign.first_display_priority

function seeded(seed: number): () => number {
  return () => {
    seed = (seed * 48271) % 2147483647
    return seed / 2147483647
  }
}

test('the ad pick stops after the priority tiers that fill the pool, and skips what is not servable', () => {
  const top = Array.from({ length: 4 }, () => entry({ first_display_priority: 9 }))
  const middle = Array.from({ length: 4 }, () => entry({ first_display_priority: 5 }))
  const low = Array.from({ length: 4 }, () => entry({ first_display_priority: 1 }))
  const bucketA = [...top.slice(0, 2), ...middle.slice(0, 2), ...low.slice(0, 2)].sort(byPriority)
  const bucketB = [...top.slice(2), ...middle.slice(2), ...low.slice(2)].sort(byPriority)
  const seen: number[] = []
  const servable = (e: CatalogEntry) => {
    seen.push(e.campaign.id)
    return e !== top[0]
  }
  const got = pickAds([bucketA, bucketB], servable, seeded(3), 5)
  assert.deepEqual(
    got.map((e) => e.campaign.first_display_priority),
    [9, 9, 9, 5, 5],
  )
  assert.ok(!got.includes(top[0] as CatalogEntry), 'the unservable ad is left out')
  assert.ok(!low.some((e) => seen.includes(e.campaign.id)), 'the lowest tier was never looked at')
})

test('inside a tier, the rules are checked only for the ads reached in key order', () => {
  const tier = Array.from({ length: 1_000 }, () => entry({ first_display_priority: 1, display_weight: 3 }))
  let checked = 0
  const got = pickAds(
    [tier],
    () => {
      checked++
      return true
    },
    seeded(5),
    25,
  )
  assert.equal(got.length, 25)
  assert.equal(checked, 25)
})

/**
 * The oracle: every tier's keys drawn in bucket order, the whole tier sorted by (key, id), the servable
 * ones taken. pickAds must answer the same with the same random source.
 */
function pickBySorting(
  buckets: readonly (readonly CatalogEntry[])[],
  servable: (e: CatalogEntry) => boolean,
  random: () => number,
  limit: number,
): CatalogEntry[] {
  const priorities = [...new Set(buckets.flat().map((e) => e.campaign.first_display_priority))].sort(
    (a, b) => b - a,
  )
  const out: CatalogEntry[] = []
  for (const p of priorities) {
    if (out.length >= limit) break
    const keyed = buckets
      .flatMap((b) => b.filter((e) => e.campaign.first_display_priority === p))
      .map((e) => {
        const w = e.campaign.display_weight
        return { e, key: w > 0 ? -Math.log(1 - random()) / w : Number.POSITIVE_INFINITY }
      })
    keyed.sort((a, b) => a.key - b.key || a.e.campaign.id - b.e.campaign.id)
    for (const { e } of keyed) if (out.length < limit && servable(e)) out.push(e)
  }
  return out
}

test('the ad pick answers as sorting every tier would, over random catalogs', () => {
  const rnd = seeded(17)
  for (let round = 0; round < 300; round++) {
    const buckets = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () =>
      Array.from({ length: Math.floor(rnd() * 40) }, () =>
        entry({ first_display_priority: Math.floor(rnd() * 4), display_weight: Math.floor(rnd() * 4) }),
      ).sort(byPriority),
    )
    const refused = new Set(
      buckets
        .flat()
        .filter(() => rnd() < 0.4)
        .map((e) => e.campaign.id),
    )
    const servable = (e: CatalogEntry) => !refused.has(e.campaign.id)
    const limit = 1 + Math.floor(rnd() * 30)
    const seed = 1 + Math.floor(rnd() * 1_000_000)
    assert.deepEqual(
      pickAds(buckets, servable, seeded(seed), limit).map((e) => e.campaign.id),
      pickBySorting(buckets, servable, seeded(seed), limit).map((e) => e.campaign.id),
      `round ${round}`,
    )
  }
})

test('a large tier is drawn with the distribution of the keyed order (the oracle), over many draws', () => {
  // Two buckets, one tier of 2 × SAMPLED_TIER ads, weights 1 and 3, a tenth of them unservable, one lower
  // tier beside: how many heavy ads reach the top 8, and how often one given heavy ad is first.
  const ads = Array.from({ length: 2 * SAMPLED_TIER }, (_, i) =>
    entry({ first_display_priority: 7, display_weight: i % 2 ? 3 : 1 }),
  )
  const lower = Array.from({ length: 10 }, () => entry({ first_display_priority: 2, display_weight: 1 }))
  const buckets = [
    [...ads.slice(0, SAMPLED_TIER + 40), ...lower.slice(0, 5)],
    [...ads.slice(SAMPLED_TIER + 40), ...lower.slice(5)],
  ]
  const refused = new Set(ads.filter((_, i) => i % 10 === 3).map((e) => e.campaign.id))
  const servable = (e: CatalogEntry) => !refused.has(e.campaign.id)
  const marked = ads[1] as CatalogEntry
  const runs = 4000
  const tally = (pick: typeof pickBySorting) => {
    const rnd = seeded(99)
    let heavy = 0
    let markedFirst = 0
    for (let r = 0; r < runs; r++) {
      const got = pick(buckets, servable, seeded(1 + Math.floor(rnd() * 2_000_000)), 8)
      assert.equal(new Set(got).size, 8)
      assert.ok(got.every(servable))
      heavy += got.filter((e) => e.campaign.display_weight === 3).length
      if (got[0] === marked) markedFirst++
    }
    return { heavy: heavy / runs, markedFirst: markedFirst / runs }
  }
  const sampled = tally(pickAds)
  const keyed = tally(pickBySorting)
  // Servable: 205 heavy (weight 3) and 256 light ads. A heavy first pick: 615 / 871 ≈ 0.706, so ≈ 5.64 heavy
  // in 8 picks (the standard error of each mean ≈ 0.02, of the difference ≈ 0.03); one heavy ad first: 3 / 871.
  assert.ok(Math.abs(sampled.heavy - keyed.heavy) < 0.15, JSON.stringify({ sampled, keyed }))
  assert.ok(Math.abs(sampled.heavy - 5.64) < 0.15, JSON.stringify({ sampled, keyed }))
  assert.ok(Math.abs(sampled.markedFirst - 3 / 871) < 0.003, JSON.stringify({ sampled, keyed }))
})

test('a large tier where almost nothing is servable still yields every servable ad, weight 0 last', () => {
  const tier = Array.from({ length: SAMPLED_TIER * 2 }, (_, i) =>
    entry({ first_display_priority: 4, display_weight: i === 7 ? 0 : 1 + (i % 3) }),
  )
  const keep = new Set([7, 40, 41, 300, 301, 511].map((i) => (tier[i] as CatalogEntry).campaign.id))
  let checked = 0
  const got = pickAds(
    [tier],
    (e) => {
      checked++
      return keep.has(e.campaign.id)
    },
    seeded(11),
    10,
  )
  assert.deepEqual(new Set(got.map((e) => e.campaign.id)), keep)
  assert.equal(got.at(-1), tier[7], 'the weight-0 ad comes last')
  assert.ok(checked <= tier.length, 'no ad is checked twice')
})

test('the content walk returns the same top contents as ranking every servable content', () => {
  const rnd = seeded(11)
  const contents = Array.from({ length: 300 }, () =>
    entry({
      type: 'C',
      is_ad: false,
      display_weight: 1 + Math.floor(rnd() * 9),
      published_at: NOW - Math.floor(rnd() * 48) * 3_600_000,
    }),
  )
  const totals = new Map(
    contents.map((e) => [
      e.campaign.id,
      { impressions: Math.floor(rnd() * 1000), clicks: Math.floor(rnd() * 40) },
    ]),
  )
  const totalsOf = (campaignId: number) => totals.get(campaignId) ?? { impressions: 0, clicks: 0 }
  const signals = (c: ServedCampaign) => ({ ...totalsOf(c.id), affinity: 0, seen: false })
  const servable = (e: CatalogEntry) => e.campaign.id % 3 !== 0
  const walk = createContentWalker((e: CatalogEntry, now: number) =>
    contentScoreBound(e.campaign, totalsOf(e.campaign.id), now),
  )
  const score = (e: CatalogEntry) => contentScore(e.campaign, signals(e.campaign), NOW)
  const buckets = [contents.slice(0, 100), contents.slice(100)]
  const walked = rankContents(walk(buckets, servable, score, NO_AFFINITY_SLACK, NOW, 25), signals, NOW, 25)
  const full = rankContents(contents.filter(servable), signals, NOW, 25)
  assert.deepEqual(
    walked.map((e) => e.campaign.id),
    full.map((e) => e.campaign.id),
  )
  assert.ok(walk(buckets, servable, score, NO_AFFINITY_SLACK, NOW, 25).length < 200, 'the walk stopped early')
})
