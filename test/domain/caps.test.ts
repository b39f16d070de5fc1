import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Campaign } from '../../src/domain/catalog.js'
import { capOf, hasCaps, summarizeActivity, withinCaps } from '../../src/domain/delivery.js'
import { campaignDraft } from '../../src/domain/drafts.js'

const NOW = Date.UTC(2026, 10, 25, 3, 30)
const campaign = (fields: Partial<Campaign>): Campaign => ({
  ...campaignDraft({ name: 'c', type: 'I', start_date: NOW - 1000, end_date: NOW + 1000 }),
  id: 7,
  created_at: 0,
  updated_at: 0,
  ...fields,
})
const impressions = (n: number) =>
  summarizeActivity(
    Array.from({ length: n }, () => ({ type: 'impression' as const, campaign_id: 7, at: NOW - 60_000 })),
    NOW,
  )

test("v1's 9999, 0 and unset are no cap: no activity needed, never capped", () => {
  for (const none of [null, 0, -1, 9999, 10_000]) assert.equal(capOf(none), null, String(none))
  const uncapped = campaign({ ipu: 9999, dipu: 0, tipu: null })
  assert.equal(hasCaps(uncapped), false)
  assert.equal(withinCaps(uncapped, impressions(20_000)), true)
})

test('a cap from 1 to 9998 is a cap: N allows N', () => {
  assert.equal(capOf(9998), 9998)
  const capped = campaign({ ipu: 9999, dipu: 2, tipu: null })
  assert.equal(hasCaps(capped), true)
  assert.equal(withinCaps(capped, impressions(1)), true)
  assert.equal(withinCaps(capped, impressions(2)), false)
})
