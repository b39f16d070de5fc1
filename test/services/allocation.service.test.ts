import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Campaign, Unit } from '../../src/domain/catalog.js'
import { type CampaignInput, campaignDraft, unitDraft } from '../../src/domain/drafts.js'
import { AllotError } from '../../src/domain/errors.js'
import { compileTargeting } from '../../src/domain/targeting.js'
import { createAllocationService } from '../../src/services/allocation.service.js'
import type { CatalogSnapshot } from '../../src/services/catalog.service.js'
import { createPayloadSigner } from '../../src/services/payload-signer.js'

// Wednesday 2026-11-25 12:30 in Seoul (03:30 UTC).
const NOW = Date.UTC(2026, 10, 25, 3, 30)
const HOUR = 3_600_000
let nextId = 1

function campaign(fields: Partial<CampaignInput> & Pick<CampaignInput, 'type'>): Campaign {
  const draft = campaignDraft({ name: 'c', start_date: NOW - HOUR, end_date: NOW + 100 * HOUR, ...fields })
  return { ...draft, id: nextId++, created_at: 0, updated_at: 0 }
}

function unit(fields: Partial<Unit> = {}): Unit {
  return { ...unitDraft({ app_id: 100 }), id: 1001, created_at: 0, updated_at: 0, ...fields }
}

function service(campaigns: Campaign[], units: Unit[] = [unit()], clock = () => NOW) {
  const entries = campaigns.map((c) => ({ campaign: c, matches: compileTargeting(c) }))
  const snapshot: CatalogSnapshot = {
    version: 1,
    loadedAt: NOW,
    units: new Map(units.map((u) => [u.id, u])),
    ads: entries.filter((e) => e.campaign.is_ad),
    contents: entries.filter((e) => !e.campaign.is_ad),
  }
  return createAllocationService({
    catalog: { current: () => snapshot },
    signer: createPayloadSigner('s'.repeat(32)),
    clock,
  })
}

const ids = (r: { campaigns: { id: number }[] }) => r.campaigns.map((c) => c.id)

describe('allocation service', () => {
  test('ads rank by priority, then weight, and come before contents ranked by freshness', () => {
    const low = campaign({ type: 'I', first_display_priority: 1, display_weight: 9 })
    const high = campaign({ type: 'J', first_display_priority: 5, display_weight: 1 })
    const heavy = campaign({ type: 'I', first_display_priority: 1, display_weight: 20 })
    const old = campaign({ type: 'C', published_at: NOW - 10 * HOUR })
    const fresh = campaign({ type: 'C', published_at: NOW - HOUR })
    const result = service([low, high, heavy, old, fresh]).allocate({ unit_id: 1001, device_id: 1 })
    assert.deepEqual(ids(result), [high.id, heavy.id, low.id, fresh.id, old.id])
  })

  test('campaigns outside their schedule window, or paused, are not allocated', () => {
    const future = campaign({ type: 'I', start_date: NOW + HOUR, end_date: NOW + 2 * HOUR })
    const ended = campaign({ type: 'I', start_date: NOW - 2 * HOUR, end_date: NOW })
    const paused = campaign({ type: 'I', status: 'paused' })
    const live = campaign({ type: 'I', start_date: NOW, end_date: NOW + 1 })
    assert.deepEqual(ids(service([future, ended, paused, live]).allocate({ unit_id: 1001, device_id: 1 })), [
      live.id,
    ])
  })

  test('week_slot is read in the unit timezone and slot lists the allowed local hours ahead', () => {
    const wednesdayNoonSeoul = 2 * 24 + 12
    const open = campaign({ type: 'I', week_slot: [wednesdayNoonSeoul, wednesdayNoonSeoul + 2] })
    const closed = campaign({ type: 'I', week_slot: [wednesdayNoonSeoul + 1] })
    const result = service([open, closed]).allocate({ unit_id: 1001, device_id: 1 })
    assert.deepEqual(ids(result), [open.id])
    assert.deepEqual(result.campaigns[0]?.slot, [12, 14])

    const inUtc = service([open, closed], [unit({ timezone: 'UTC' })]).allocate({
      unit_id: 1001,
      device_id: 1,
    })
    assert.deepEqual(ids(inUtc), [], 'at 03:30 UTC neither Wednesday-noon slot is open')
  })

  test('age comes from year_of_birth in the unit timezone', () => {
    // 2026-12-31 20:00 UTC is already 2027 in Seoul.
    const adult = campaign({ type: 'I', target_age_min: 20, target_age_max: 20, end_date: Date.UTC(2030, 0) })
    const snapshotService = service([adult], [unit()], () => Date.UTC(2026, 11, 31, 20))
    assert.equal(
      snapshotService.allocate({ unit_id: 1001, device_id: 1, year_of_birth: 2007 }).campaigns.length,
      1,
    )
    assert.equal(
      snapshotService.allocate({ unit_id: 1001, device_id: 1, year_of_birth: 2006 }).campaigns.length,
      0,
    )
  })

  test('excluded ids are skipped and each kind is capped at max(page_limit, 25)', () => {
    const contents = Array.from({ length: 40 }, (_, i) => campaign({ type: 'C', published_at: NOW - i }))
    const svc = service(contents, [unit({ page_limit: 30 })])
    assert.equal(svc.allocate({ unit_id: 1001, device_id: 1 }).campaigns.length, 30)
    const excluded = `${contents[0]?.id},${contents[1]?.id}, junk`
    const result = svc.allocate({ unit_id: 1001, device_id: 1, excluded })
    assert.equal(result.campaigns[0]?.id, contents[2]?.id)
    assert.equal(
      service(contents, [unit({ page_limit: 5 })]).allocate({ unit_id: 1001, device_id: 1 }).campaigns.length,
      25,
    )
  })

  test('an unknown unit and an inactive unit are distinct errors', () => {
    const svc = service([], [unit({ id: 5, is_active: false })])
    assert.throws(
      () => svc.allocate({ unit_id: 1001, device_id: 1 }),
      (e) => e instanceof AllotError && e.code === 'UnitNotFound',
    )
    assert.throws(
      () => svc.allocate({ unit_id: 5, device_id: 1 }),
      (e) => e instanceof AllotError && e.code === 'UnitInactive',
    )
  })

  test('the content-only allocation never returns ads', () => {
    const result = service([campaign({ type: 'I' }), campaign({ type: 'C' })]).allocateContents({
      unit_id: 1001,
      device_id: 1,
    })
    assert.ok(result.campaigns.length === 1 && result.campaigns.every((c) => !c.is_ad))
  })
})
