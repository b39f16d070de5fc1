import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Campaign } from '../../src/domain/catalog.js'
import { buildCampaignIndex } from '../../src/domain/catalog-index.js'
import { campaignDraft } from '../../src/domain/drafts.js'
import { topK } from '../../src/lib/top-k.js'

let id = 1
const campaign = (fields: Partial<Campaign>): Campaign => ({
  ...campaignDraft({ name: 'c', type: 'I', start_date: 0, end_date: 1 }),
  id: id++,
  created_at: 0,
  updated_at: 0,
  ...fields,
})

describe('campaign index', () => {
  const global = campaign({})
  const korea = campaign({ target_country: ['kr', 'JP'] })
  const mine = campaign({ target_unit: ['1001', '1001', '1002'] })
  const mineInKorea = campaign({ target_unit: ['1001'], target_country: ['KR'] })
  const otherUnit = campaign({ target_unit: ['2002'] })
  const globbed = campaign({ target_unit: ['__GLOB__'], target_country: ['__GLOB__'] })
  const index = buildCampaignIndex([global, korea, mine, mineInKorea, otherUnit, globbed], (c) => c)
  const visited = (unit: number, country?: string) =>
    index
      .buckets(unit, country)
      .flat()
      .map((c) => c.id)
      .sort((a, b) => a - b)

  test('a request visits every plausible campaign exactly once and skips the rest', () => {
    assert.deepEqual(visited(1001, 'KR'), [global.id, korea.id, mine.id, mineInKorea.id, globbed.id])
    assert.deepEqual(visited(1002, 'JP'), [global.id, korea.id, mine.id, globbed.id])
    assert.deepEqual(visited(2002, 'US'), [global.id, otherUnit.id, globbed.id])
    assert.deepEqual(
      visited(1001),
      [global.id, mine.id, globbed.id],
      'no country sent: country-targeted ones cannot match',
    )
  })
})

describe('topK', () => {
  test('returns the same as sorting everything and taking the first k', () => {
    let seed = 7
    const random = () => {
      seed = (seed * 48271) % 2147483647
      return seed / 2147483647
    }
    for (const [n, k] of [
      [0, 5],
      [3, 5],
      [100, 25],
      [5000, 25],
      [50, 0],
    ] as const) {
      const items = Array.from({ length: n }, (_, i) => ({ i, v: Math.floor(random() * 100) }))
      const compare = (a: { i: number; v: number }, b: { i: number; v: number }) => b.v - a.v || a.i - b.i
      assert.deepEqual(topK(items, k, compare), [...items].sort(compare).slice(0, k), `n=${n} k=${k}`)
    }
  })
})
