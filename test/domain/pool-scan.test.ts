import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Campaign } from '../../src/domain/catalog.js'
import { type CatalogEntry, catalogEntry } from '../../src/domain/catalog-snapshot.js'
import { campaignDraft } from '../../src/domain/drafts.js'
import { adCandidates, createContentWalker } from '../../src/domain/pool-scan.js'
import { rankContents } from '../../src/domain/ranking.js'

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

test('the ad scan stops after the priority tiers that fill the pool, and skips what is not servable', () => {
  const top = Array.from({ length: 4 }, () => entry({ first_display_priority: 9 }))
  const middle = Array.from({ length: 4 }, () => entry({ first_display_priority: 5 }))
  const low = Array.from({ length: 4 }, () => entry({ first_display_priority: 1 }))
  const byPriority = (a: CatalogEntry, b: CatalogEntry) =>
    b.campaign.first_display_priority - a.campaign.first_display_priority
  const bucketA = [...top.slice(0, 2), ...middle.slice(0, 2), ...low.slice(0, 2)].sort(byPriority)
  const bucketB = [...top.slice(2), ...middle.slice(2), ...low.slice(2)].sort(byPriority)
  const seen: number[] = []
  const servable = (e: CatalogEntry) => {
    seen.push(e.campaign.id)
    return e !== top[0]
  }
  const got = adCandidates([bucketA, bucketB], servable, 5)
  assert.deepEqual(
    got.map((e) => e.campaign.first_display_priority),
    [9, 9, 9, 5, 5, 5, 5],
  )
  assert.ok(!low.some((e) => seen.includes(e.campaign.id)), 'the lowest tier was never looked at')
})

test('the content walk returns the same top contents as ranking every servable content', () => {
  let seed = 11
  const rnd = () => {
    seed = (seed * 48271) % 2147483647
    return seed / 2147483647
  }
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
  const signals = (c: Campaign) => ({ ...totalsOf(c.id), affinity: 0, seen: false })
  const servable = (e: CatalogEntry) => e.campaign.id % 3 !== 0
  const walk = createContentWalker(totalsOf)
  const buckets = [contents.slice(0, 100), contents.slice(100)]
  const walked = rankContents(walk(buckets, servable, signals, false, NOW, 25), signals, NOW, 25)
  const full = rankContents(contents.filter(servable), signals, NOW, 25)
  assert.deepEqual(
    walked.map((e) => e.campaign.id),
    full.map((e) => e.campaign.id),
  )
  assert.ok(walk(buckets, servable, signals, false, NOW, 25).length < 200, 'the walk stopped early')
})
