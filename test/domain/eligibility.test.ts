import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Campaign } from '../../src/domain/catalog.js'
import { catalogEntry } from '../../src/domain/catalog-snapshot.js'
import { contentFilter } from '../../src/domain/content-filter.js'
import { summarizeActivity } from '../../src/domain/delivery.js'
import { campaignDraft } from '../../src/domain/drafts.js'
import {
  type EligibilityContext,
  firstExclusion,
  RULE_ORDER,
  servable,
} from '../../src/domain/eligibility.js'

const NOW = Date.UTC(2026, 10, 25, 3, 30)
let id = 1
const campaign = (fields: Partial<Campaign>): Campaign => ({
  ...campaignDraft({ name: 'c', type: 'I', start_date: NOW - 1000, end_date: NOW + 1000 }),
  id: id++,
  created_at: 0,
  updated_at: 0,
  ...fields,
})
const context = (fields: Partial<EligibilityContext> = {}): EligibilityContext => ({
  now: NOW,
  currentSlot: 60,
  excluded: new Set(),
  filteredProviders: new Set([9]),
  contentFilter: contentFilter({
    categories: undefined,
    excludedCategories: new Set(['news']),
    excludedChannels: undefined,
  }),
  activity: summarizeActivity([], NOW),
  device: { unitId: 1, appId: 1, customTargets: [undefined, undefined, undefined], gender: 'M' },
  delivery: () => ({ total: 10, today: 10 }),
  ...fields,
})

test('each rule keeps out the campaign that breaks it, and the first broken rule is the one reported', () => {
  const cases: [string, Campaign, Partial<EligibilityContext>?][] = [
    ['schedule', campaign({ status: 'paused' })],
    ['week_slot', campaign({ week_slot: [61] })],
    ['excluded', campaign({ id: 999_001 }), { excluded: new Set([999_001]) }],
    ['provider', campaign({ provider_id: 9 })],
    ['content_filter', campaign({ type: 'C', is_ad: false, categories: ['news'] })],
    ['cap', campaign({ ipu: 1 }), { activity: undefined }],
    ['targeting', campaign({ target_gender: ['F'] })],
    ['budget', campaign({ budget_type: 'impression', budget_total: 10 })],
  ]
  assert.deepEqual(
    cases.map(([rule]) => rule),
    RULE_ORDER,
    'one case per rule, in order',
  )
  for (const [rule, c, extra] of cases) {
    const x = context(extra)
    const entry = catalogEntry(c)
    assert.equal(firstExclusion(x, entry), rule)
    assert.equal(servable(x)(entry), false, rule)
  }
  // Broken twice: the earlier rule is the one reported.
  assert.equal(
    firstExclusion(context(), catalogEntry(campaign({ status: 'paused', target_gender: ['F'] }))),
    'schedule',
  )
  const fine = catalogEntry(campaign({ target_gender: ['M'] }))
  assert.equal(firstExclusion(context(), fine), undefined)
  assert.equal(servable(context())(fine), true)
})
