import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { Campaign, Unit } from '../../src/domain/catalog.js'
import { catalogEntry, catalogSnapshot } from '../../src/domain/catalog-snapshot.js'
import { type ActivityItem, type DeviceProfile, Registrations } from '../../src/domain/device.js'
import { type CampaignInput, campaignDraft, unitDraft } from '../../src/domain/drafts.js'
import { AllotError } from '../../src/domain/errors.js'
import {
  type Allocation,
  type AllocationRequest,
  createAllocationService,
  type Explanation,
} from '../../src/services/allocation.service.js'

// Wednesday 2026-11-25 12:30 in Seoul (03:30 UTC).
const NOW = Date.UTC(2026, 10, 25, 3, 30)
const HOUR = 3_600_000
const WEDNESDAY_NOON_SEOUL = 2 * 24 + 12

/** A small seeded PRNG (mulberry32), so allocation and explanation can draw the same weighted order. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

type World = {
  unit: Unit
  campaigns: Campaign[]
  activity: ActivityItem[]
  registeredAt: number | undefined
  profile: DeviceProfile | null
  counters: Record<string, number>
  seed: number
}

/** The allocation service over fakes of its ports, with a random source that can be rewound. */
function service(world: World, extra: { stored?: Campaign[] } = {}) {
  const snapshot = catalogSnapshot({
    version: 1,
    loadedAt: NOW,
    units: [world.unit],
    campaigns: world.campaigns,
    categories: [],
    channels: [],
  })
  let random = seeded(world.seed)
  const writes: string[] = []
  const view = () => ({
    profile: world.profile,
    registrations: new Registrations(
      world.registeredAt === undefined ? [] : [[world.unit.id, world.registeredAt]],
    ),
    activity: world.activity,
  })
  const svc = createAllocationService({
    catalog: { current: () => snapshot },
    campaigns: { get: async (id) => extra.stored?.find((c) => c.id === id) },
    clock: () => NOW,
    random: () => random(),
    devices: {
      // Allocation registers a new device (a write); the explainer must not.
      load: async (_device, unitId, now) => {
        const v = view()
        if (!v.registrations.has(unitId)) {
          writes.push(`register ${unitId}`)
          v.registrations.set(unitId, now)
        }
        return v
      },
      inspect: async () => view(),
    },
    counters: {
      value: (key) => world.counters[key] ?? 0,
      totals: (id) => ({
        impressions: world.counters[`imp:${id}`] ?? 0,
        clicks: world.counters[`clk:${id}`] ?? 0,
      }),
    },
    deadlineMs: 1_000,
  })
  return {
    svc,
    writes,
    rewind: () => {
      random = seeded(world.seed)
    },
  }
}

const servedIds = (a: Allocation) => new Set([...a.ads, ...(a.contents ?? [])].map((e) => e.campaign.id))
const explainedIds = (x: Explanation) => new Set(x.verdicts.filter((v) => v.served).map((v) => v.campaign.id))

let nextId = 1
function campaign(fields: Partial<CampaignInput> & Pick<CampaignInput, 'type'>): Campaign {
  const draft = campaignDraft({ name: 'c', start_date: NOW - HOUR, end_date: NOW + 100 * HOUR, ...fields })
  return { ...draft, id: nextId++, created_at: 0, updated_at: 0 }
}
const unit = (fields: Partial<Unit> = {}): Unit => ({
  ...unitDraft({ app_id: 100 }),
  id: 1001,
  created_at: 0,
  updated_at: 0,
  ...fields,
})
const world = (campaigns: Campaign[], fields: Partial<World> = {}): World => ({
  unit: unit(),
  campaigns,
  activity: [],
  registeredAt: NOW - 10 * 86_400_000,
  profile: null,
  counters: {},
  seed: 1,
  ...fields,
})
const req = (extra: Partial<AllocationRequest> = {}): AllocationRequest => ({
  unit_id: 1001,
  device_id: 1,
  ifa: 'ifa-1',
  unit_device_token: 'user-1',
  sdk_version: 2000,
  sex: 'F',
  year_of_birth: 1990,
  ...extra,
})

describe('decision explainer (service)', () => {
  test('each campaign says served, or the first rule that kept it out with the values it looked at', async () => {
    const live = campaign({ type: 'I' })
    const paused = campaign({ type: 'I', status: 'paused' })
    const night = campaign({ type: 'I', week_slot: [WEDNESDAY_NOON_SEOUL + 10] })
    const men = campaign({ type: 'I', target_gender: ['M'] })
    const capped = campaign({ type: 'I', ipu: 1 })
    const spent = campaign({ type: 'I', budget_type: 'impression', budget_daily: 100, budget_pacing: 'even' })
    const elsewhere = campaign({ type: 'I', target_unit: ['2002'] })
    const w = world([live, paused, night, men, capped, spent, elsewhere], {
      activity: [{ type: 'impression', campaign_id: capped.id, at: NOW - 60_000 }],
      counters: { [`imp:${spent.id}:20261125`]: 20, [`imp:${spent.id}`]: 20 },
    })
    const { svc } = service(w)
    const x = await svc.explain(req())
    const byId = new Map(x.verdicts.map((v) => [v.campaign.id, v]))
    assert.equal(byId.has(elsewhere.id), false, 'a campaign for another unit is not one of this unit')
    assert.deepEqual(byId.get(live.id), {
      campaign: catalogEntry(live).campaign,
      served: true,
      exclusion: undefined,
    })
    assert.deepEqual(byId.get(paused.id)?.exclusion, {
      rule: 'schedule',
      status: 'paused',
      startDate: paused.start_date,
      endDate: paused.end_date,
      now: NOW,
    })
    assert.deepEqual(byId.get(night.id)?.exclusion, {
      rule: 'week_slot',
      slot: WEDNESDAY_NOON_SEOUL,
      allowed: [WEDNESDAY_NOON_SEOUL + 10],
    })
    assert.deepEqual(byId.get(men.id)?.exclusion, {
      rule: 'targeting',
      miss: { field: 'target_gender', deviceValue: 'F', target: ['M'], detarget: undefined },
    })
    assert.deepEqual(byId.get(capped.id)?.exclusion, {
      rule: 'cap',
      ipu: 1,
      dipu: null,
      tipu: null,
      impressions: { lastHour: 1, lastDay: 1, retained: 1 },
    })
    // 03:30 UTC: 14.6 % of the UTC day, so even pacing allows 100 × 0.146 + 2 ≈ 16.6 < 20 delivered.
    const budget = byId.get(spent.id)?.exclusion
    assert.equal(budget?.rule, 'budget')
    assert.equal(budget?.rule === 'budget' && budget.deliveredToday, 20)
    assert.equal(budget?.rule === 'budget' && Math.round((budget.pacedAllowance ?? 0) * 10) / 10, 16.6)
    assert.equal(x.currentSlot, WEDNESDAY_NOON_SEOUL)
    assert.equal(x.activityKnown, true)
  })

  test('a named campaign outside the snapshot is explained from the store; an unknown one is a 404', async () => {
    const ended = campaign({ type: 'C', start_date: NOW - 10 * HOUR, end_date: NOW - HOUR })
    const { svc } = service(world([]), { stored: [ended] })
    const x = await svc.explain(req(), ended.id)
    assert.equal(x.verdicts.length, 1)
    assert.equal(x.verdicts[0]?.exclusion?.rule, 'schedule')
    await assert.rejects(
      svc.explain(req(), 999_999),
      (e) => e instanceof AllotError && e.code === 'ResourceNotFound',
    )
  })

  test('supply comes first: no ads for an old SDK or an ad-free unit, no contents for a content-free unit', async () => {
    const ad = campaign({ type: 'I' })
    const story = campaign({ type: 'C' })
    const old = await service(world([ad, story])).svc.explain(req({ sdk_version: 1500 }))
    assert.deepEqual(
      old.verdicts.map((v) => v.exclusion),
      [{ rule: 'supply', reason: 'sdk_version' }, undefined],
    )
    const noContents = world([ad, story], { unit: unit({ content_type: 'none', ad_type: 'none' }) })
    assert.deepEqual(
      (await service(noContents).svc.explain(req())).verdicts.map((v) => v.exclusion),
      [
        { rule: 'supply', reason: 'ad_type_none' },
        { rule: 'supply', reason: 'content_type_none' },
      ],
    )
  })

  test('a servable content outside a full pool is "ranked out" with its score under the cut-off', async () => {
    const contents = Array.from({ length: 26 }, (_, i) =>
      campaign({ type: 'C', published_at: NOW - i * HOUR }),
    )
    const x = await service(world(contents)).svc.explain(req())
    const out = x.verdicts.filter((v) => !v.served)
    assert.equal(out.length, 1)
    assert.equal(out[0]?.campaign.id, contents[25]?.id, 'the oldest one')
    const why = out[0]?.exclusion
    assert.equal(why?.rule, 'ranked_out')
    if (why?.rule === 'ranked_out') {
      assert.equal(why.poolSize, 25)
      assert.ok(why.score < why.cutoff, `${why.score} < ${why.cutoff}`)
    }
  })

  test('explaining records nothing: no registration, and allocation would register a new device', async () => {
    const registered = world([campaign({ type: 'I', registered_days_max: 0 })], { registeredAt: undefined })
    const { svc, writes } = service(registered)
    const x = await svc.explain(req())
    assert.deepEqual(writes, [])
    assert.equal(x.firstAllocation, true)
    assert.equal(x.device.registeredDays, 0, 'as if registered now, as allocation would record it')
    assert.equal(explainedIds(x).size, 1)
    await svc.allocate(req())
    assert.deepEqual(writes, ['register 1001'], 'while allocation does register it')
  })
})

// ---------------------------------------------------------------------------------------------------------
// The property: over random catalogs and devices, the explainer serves exactly what allocation serves.

const TIMEZONES = ['Asia/Seoul', 'UTC', 'America/New_York']
const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined })
/** Present in about one campaign of eleven, so pools often fill up and ranking decides too. */
const rare = <T>(arb: fc.Arbitrary<T>, absent: undefined | null = undefined) =>
  fc.oneof({ weight: 10, arbitrary: fc.constant(absent) }, { weight: 1, arbitrary: arb })
const some = (values: string[]) => rare(fc.subarray(values, { minLength: 1 }))
const SLOTS = Array.from({ length: 168 }, (_, i) => i)

const campaignArb = fc.record({
  type: fc.constantFrom('C', 'I', 'J', 'B'),
  status: fc.constantFrom('active', 'active', 'active', 'active', 'active', 'paused'),
  startHours: fc.integer({ min: -48, max: 2 }),
  lengthHours: fc.integer({ min: 1, max: 200 }),
  week_slot: fc.oneof(
    { weight: 4, arbitrary: fc.constant([]) },
    { weight: 1, arbitrary: fc.subarray(SLOTS, { minLength: 1, maxLength: 100 }) },
  ),
  first_display_priority: fc.integer({ min: -1, max: 2 }),
  display_weight: fc.integer({ min: 0, max: 5 }),
  provider_id: rare(fc.constantFrom(1, 2), null),
  categories: fc.subarray(['news', 'sports', 'fun']),
  channel_id: fc.option(fc.constantFrom(1, 2), { nil: null }),
  publishedHoursAgo: fc.integer({ min: 0, max: 72 }),
  target_gender: some(['M', 'F']),
  target_country: some(['KR', 'JP']),
  target_language: some(['ko', 'en']),
  target_region: some(['서울특별시', '부산광역시 해운대구']),
  target_unit: some(['1001', '2002']),
  custom_target_1: some(['gold', 'vip']),
  age: rare(fc.tuple(fc.integer({ min: 10, max: 50 }), fc.integer({ min: 0, max: 30 }))),
  registered_days_min: rare(fc.integer({ min: 0, max: 20 })),
  ipu: rare(fc.integer({ min: 1, max: 3 }), null),
  dipu: rare(fc.integer({ min: 1, max: 5 }), null),
  budget: rare(
    fc.record({
      budget_type: fc.constantFrom('impression', 'click'),
      budget_daily: fc.option(fc.integer({ min: 1, max: 50 }), { nil: null }),
      budget_total: fc.option(fc.integer({ min: 1, max: 200 }), { nil: null }),
      budget_pacing: fc.constantFrom('asap', 'even'),
    }),
  ),
})

const requestArb = fc.record({
  sdk_version: fc.constantFrom(1400, 2000, 3000),
  sex: opt(fc.constantFrom('M', 'F')),
  year_of_birth: opt(fc.integer({ min: 1960, max: 2015 })),
  country: opt(fc.constantFrom('KR', 'JP')),
  language: opt(fc.constantFrom('ko', 'en_US', 'ko,en')),
  region: opt(fc.constantFrom('서울특별시 관악구', '부산광역시 해운대구', '부산광역시 중구')),
  custom_target_1: opt(fc.constantFrom('gold', 'vip,gold', 'silver')),
  categories: opt(fc.constantFrom('news', 'news,fun')),
  filter_categories: opt(fc.constantFrom('sports', 'fun')),
  filter_channel_ids: opt(fc.constantFrom('1', '1,2')),
  registered_date: opt(fc.integer({ min: 0, max: 40 }).map((d) => Math.floor((NOW - d * 86_400_000) / 1000))),
  excludedPicks: fc.array(fc.nat({ max: 80 }), { maxLength: 5 }),
})

const worldArb = fc.record({
  timezone: fc.constantFrom(...TIMEZONES),
  page_limit: fc.integer({ min: 1, max: 30 }),
  ad_type: fc.constantFrom('all', 'all', 'all', 'none'),
  content_type: fc.constantFrom('all', 'all', 'all', 'none'),
  filtered_providers: fc.subarray([1, 2]),
  /** Catalogs of one kind fill their pool more often, so ranking cuts off more often. */
  kinds: fc.constantFrom('mixed', 'ads', 'contents'),
  campaigns: fc.array(campaignArb, { maxLength: 70, size: 'max' }),
  activity: fc.array(
    fc.record({
      type: fc.constantFrom('impression', 'impression', 'click'),
      pick: fc.nat({ max: 80 }),
      minutesAgo: fc.integer({ min: 0, max: 3000 }),
    }),
    { maxLength: 12 },
  ),
  registeredDaysAgo: opt(fc.integer({ min: 0, max: 30 })),
  scores: opt(fc.dictionary(fc.constantFrom('news', 'sports', 'fun'), fc.integer({ min: 0, max: 9 }))),
  delivered: fc.array(fc.tuple(fc.nat({ max: 80 }), fc.nat({ max: 300 }), fc.nat({ max: 60 })), {
    maxLength: 20,
  }),
  seed: fc.integer(),
})

type WorldInput = typeof worldArb extends fc.Arbitrary<infer T> ? T : never
type RequestInput = typeof requestArb extends fc.Arbitrary<infer T> ? T : never

function build(input: WorldInput): World {
  const campaigns = input.campaigns.map((c, i): Campaign => {
    const { startHours, lengthHours, publishedHoursAgo, budget, age, ...fields } = c
    const start = NOW + startHours * HOUR
    const draft = campaignDraft({
      ...(Object.fromEntries(
        Object.entries(fields).filter(([, v]) => v !== undefined),
      ) as Partial<CampaignInput>),
      ...budget,
      ...(age ? { target_age_min: age[0], target_age_max: age[0] + age[1] } : {}),
      type: (input.kinds === 'contents'
        ? 'C'
        : input.kinds === 'ads' && c.type === 'C'
          ? 'I'
          : c.type) as Campaign['type'],
      status: c.status as Campaign['status'],
      name: `c${i + 1}`,
      start_date: start,
      end_date: start + lengthHours * HOUR,
      published_at: NOW - publishedHoursAgo * HOUR,
    } as CampaignInput)
    return { ...draft, id: i + 1, created_at: 0, updated_at: 0 }
  })
  const idOf = (pick: number) => (campaigns.length === 0 ? 1 : (pick % campaigns.length) + 1)
  const counters: Record<string, number> = {}
  for (const [pick, total, today] of input.delivered) {
    const id = idOf(pick)
    counters[`imp:${id}`] = total
    counters[`imp:${id}:20261125`] = Math.min(total, today)
    counters[`clk:${id}`] = Math.floor(total / 10)
    counters[`clk:${id}:20261125`] = Math.floor(today / 10)
  }
  return {
    unit: unit({
      timezone: input.timezone,
      page_limit: input.page_limit,
      ad_type: input.ad_type as Unit['ad_type'],
      content_type: input.content_type as Unit['content_type'],
      filtered_providers: input.filtered_providers,
    }),
    campaigns,
    activity: input.activity
      .map((a) => ({
        type: a.type as ActivityItem['type'],
        campaign_id: idOf(a.pick),
        at: NOW - a.minutesAgo * 60_000,
      }))
      .sort((a, b) => a.at - b.at),
    registeredAt:
      input.registeredDaysAgo === undefined ? undefined : NOW - input.registeredDaysAgo * 86_400_000,
    profile: input.scores ? { device_id: 1, category_scores: input.scores, updated_at: 0 } : null,
    counters,
    seed: input.seed,
  }
}

function request(input: RequestInput, w: World): AllocationRequest {
  const { excludedPicks, ...fields } = input
  const wire = excludedPicks
    .map((pick) => w.campaigns[pick % Math.max(1, w.campaigns.length)])
    .filter((c) => c !== undefined)
    .map((c) => (c.is_ad ? c.id + 1_000_000_000 : c.id))
  return { ...req(), ...fields, excluded: wire.length > 0 ? wire.join(',') : undefined }
}

describe('decision explainer: the same decisions as allocation', () => {
  test('over 1,500 random catalogs × 2 devices, the explained served set is the allocated one', async () => {
    let rankedOut = 0
    let excluded = 0
    await fc.assert(
      fc.asyncProperty(
        worldArb,
        fc.array(requestArb, { minLength: 2, maxLength: 2 }),
        async (input, reqs) => {
          const w = build(input)
          const { svc, rewind } = service(w)
          for (const r of reqs) {
            const ask = request(r, w)
            rewind()
            const allocated = servedIds(await svc.allocate(ask))
            rewind()
            const explained = await svc.explain(ask)
            assert.deepEqual(explainedIds(explained), allocated)
            for (const v of explained.verdicts) {
              if (v.exclusion?.rule === 'ranked_out') rankedOut++
              else if (v.exclusion) excluded++
            }
          }
        },
      ),
      { numRuns: 1_500, seed: 20261125 },
    )
    // The generators reach every kind of verdict, so the property is not vacuous.
    assert.ok(rankedOut > 50, `ranked out: ${rankedOut}`)
    assert.ok(excluded > 1_000, `excluded by a rule: ${excluded}`)
  })
})
