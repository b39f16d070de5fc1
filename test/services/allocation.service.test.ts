import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Campaign, Unit } from '../../src/domain/catalog.js'
import { catalogSnapshot } from '../../src/domain/catalog-snapshot.js'
import { type ActivityItem, type DeviceProfile, Registrations } from '../../src/domain/device.js'
import { type CampaignInput, campaignDraft, unitDraft } from '../../src/domain/drafts.js'
import { AllotError } from '../../src/domain/errors.js'
import { categoryAffinity, rankContents } from '../../src/domain/ranking.js'
import {
  type Allocation,
  type AllocationRequest,
  createAllocationService,
} from '../../src/services/allocation.service.js'

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

type Fakes = {
  activity?: ActivityItem[]
  registeredAt?: number
  profile?: DeviceProfile
  installed?: string[]
  counters?: Record<string, number>
  random?: () => number
  slowDevices?: boolean
}

/** The service over plain fakes of its ports; no I/O. */
function service(campaigns: Campaign[], units: Unit[] = [unit()], clock = () => NOW, fakes: Fakes = {}) {
  const snapshot = catalogSnapshot({
    version: 1,
    loadedAt: NOW,
    units,
    campaigns,
    categories: [],
    channels: [],
  })
  const never = new Promise<never>(() => {})
  return createAllocationService({
    catalog: { current: () => snapshot },
    installed: { packages: async () => fakes.installed && new Set(fakes.installed) },
    clock,
    random: fakes.random ?? (() => 0.5),
    devices: {
      load: async (_device, unitId, now) =>
        fakes.slowDevices
          ? never
          : {
              profile: fakes.profile ?? null,
              registrations: new Registrations([[unitId, fakes.registeredAt ?? now]]),
              activity: fakes.activity ?? [],
            },
      inspect: async () => {
        throw new Error('allocation never inspects')
      },
    },
    counters: {
      value: (key) => fakes.counters?.[key] ?? 0,
      totals: (id) => ({
        impressions: fakes.counters?.[`imp:${id}`] ?? 0,
        clicks: fakes.counters?.[`clk:${id}`] ?? 0,
      }),
    },
    deadlineMs: 20,
  })
}

type Service = ReturnType<typeof service>
/** A v1 SDK's request for device 1 on unit 1001 (SDK 2000), with `extra` fields. */
const req = (extra: Partial<AllocationRequest> = {}): AllocationRequest => ({
  unit_id: 1001,
  device_id: 1,
  ifa: 'ifa-1',
  unit_device_token: 'user-1',
  sdk_version: 2000,
  ...extra,
})
const served = (r: Allocation) => [...r.ads, ...(r.contents ?? [])].map((e) => e.campaign)
const count = async (svc: Service, extra: Partial<AllocationRequest> = {}) =>
  served(await svc.allocate(req(extra))).length
const ids = (r: Allocation) => served(r).map((c) => c.id)

describe('allocation service', () => {
  test('ads rank by priority, then weight, and come before contents ranked by freshness', async () => {
    const low = campaign({ type: 'I', first_display_priority: 1, display_weight: 9 })
    const high = campaign({ type: 'J', first_display_priority: 5, display_weight: 1 })
    const heavy = campaign({ type: 'I', first_display_priority: 1, display_weight: 20 })
    const old = campaign({ type: 'C', published_at: NOW - 10 * HOUR })
    const fresh = campaign({ type: 'C', published_at: NOW - HOUR })
    const result = await service([low, high, heavy, old, fresh]).allocate(req())
    assert.deepEqual(ids(result), [high.id, heavy.id, low.id, fresh.id, old.id])
  })

  test('campaigns outside their schedule window, or paused, are not allocated', async () => {
    const future = campaign({ type: 'I', start_date: NOW + HOUR, end_date: NOW + 2 * HOUR })
    const ended = campaign({ type: 'I', start_date: NOW - 2 * HOUR, end_date: NOW })
    const paused = campaign({ type: 'I', status: 'paused' })
    const live = campaign({ type: 'I', start_date: NOW, end_date: NOW + 1 })
    assert.deepEqual(ids(await service([future, ended, paused, live]).allocate(req())), [live.id])
  })

  test('week_slot is read in the unit timezone; the allocation says which slot is current', async () => {
    const wednesdayNoonSeoul = 2 * 24 + 12
    const open = campaign({ type: 'I', week_slot: [wednesdayNoonSeoul, wednesdayNoonSeoul + 2] })
    const closed = campaign({ type: 'I', week_slot: [wednesdayNoonSeoul + 1] })
    const result = await service([open, closed]).allocate(req())
    assert.deepEqual(ids(result), [open.id])
    assert.equal(result.currentSlot, wednesdayNoonSeoul)

    const inUtc = await service([open, closed], [unit({ timezone: 'UTC' })]).allocate(req())
    assert.deepEqual(ids(inUtc), [], 'at 03:30 UTC neither Wednesday-noon slot is open')
    assert.equal(inUtc.currentSlot, 2 * 24 + 3)
  })

  test('age is the legacy rule (local year − year of birth − 1), in the unit timezone', async () => {
    // 2026-12-31 20:00 UTC is already 2027 in Seoul: born 2006 → 2027 − 2006 − 1 = 20.
    const adult = campaign({ type: 'I', target_age_min: 20, target_age_max: 20, end_date: Date.UTC(2030, 0) })
    const snapshotService = service([adult], [unit()], () => Date.UTC(2026, 11, 31, 20))
    assert.equal(await count(snapshotService, { year_of_birth: 2006 }), 1)
    assert.equal(await count(snapshotService, { year_of_birth: 2007 }), 0)
    assert.equal(await count(snapshotService, { year_of_birth: 2005 }), 0)
  })

  test('without unit_id, or with an unknown one, the app_id picks its lockscreen unit', async () => {
    const ad = campaign({ type: 'I' })
    const units = [unit({ id: 7, app_id: 55, unit_type: 'banner' }), unit({ id: 9, app_id: 55 }), unit()]
    const svc = service([ad], units)
    assert.equal((await svc.allocate(req({ unit_id: undefined, app_id: 55 }))).unit.id, 9)
    assert.equal((await svc.allocate(req({ unit_id: 424242, app_id: 55 }))).unit.id, 9)
    await assert.rejects(
      svc.allocate(req({ unit_id: undefined, app_id: 56 })),
      (e) => e instanceof AllotError && e.code === 'UnitNotFound',
    )
  })

  test('SDK gates and unit types: no ads below SDK 1501 or for ad type none; contents null for content type none', async () => {
    const ad = campaign({ type: 'I' })
    const story = campaign({ type: 'C' })
    const svc = service([ad, story])
    assert.deepEqual(ids(await svc.allocate(req({ sdk_version: 1500 }))), [story.id])
    assert.deepEqual(ids(await svc.allocate(req({ sdk_version: 1501 }))), [ad.id, story.id])
    assert.deepEqual(ids(await service([ad, story], [unit({ ad_type: 'none' })]).allocate(req())), [story.id])
    const noContents = await service([ad, story], [unit({ content_type: 'none' })]).allocate(req())
    assert.equal(noContents.contents, null)
    assert.deepEqual(ids(noContents), [ad.id])
  })

  test('country falls back to the unit country; a request without language still matches language targeting', async () => {
    const korean = campaign({ type: 'I', target_country: ['KR'] })
    const japanese = campaign({ type: 'I', target_country: ['JP'] })
    const ko = campaign({ type: 'I', target_language: ['ko'] })
    const svc = service([korean, japanese, ko])
    assert.deepEqual(ids(await svc.allocate(req())).sort(), [korean.id, ko.id].sort())
    assert.deepEqual(ids(await svc.allocate(req({ country: 'JP', language: 'en,ko' }))), [japanese.id])
    assert.deepEqual(ids(await svc.allocate(req({ language: 'ko_KR' }))).sort(), [korean.id, ko.id].sort())
  })

  test('registered_date from the request overrides the registration Allot recorded', async () => {
    const veterans = campaign({ type: 'I', registered_days_min: 30 })
    const svc = service([veterans])
    assert.equal(await count(svc), 0)
    assert.equal(await count(svc, { registered_date: Math.floor((NOW - 31 * 86_400_000) / 1000) }), 1)
  })

  test('installed-package targeting reads the packages the SDK uploaded', async () => {
    const gamers = campaign({ type: 'I', target_app: ['com.game'] })
    const notGamers = campaign({ type: 'I', detarget_app: ['com.game'] })
    const ids_ = async (installed?: string[]) =>
      ids(
        await service([gamers, notGamers], undefined, undefined, installed ? { installed } : {}).allocate(
          req(),
        ),
      )
    assert.deepEqual(await ids_(['com.game', 'com.mail']), [gamers.id])
    assert.deepEqual(await ids_(['com.mail']), [notGamers.id])
    assert.deepEqual(await ids_(), [notGamers.id], 'nothing uploaded: a targeted app cannot be proven')
  })

  test('excluded ids are skipped and each kind is capped at max(page_limit, 25)', async () => {
    const contents = Array.from({ length: 40 }, (_, i) => campaign({ type: 'C', published_at: NOW - i }))
    const svc = service(contents, [unit({ page_limit: 30 })])
    assert.equal(await count(svc), 30)
    const excluded = `${contents[0]?.id},${contents[1]?.id}, junk`
    const result = await svc.allocate(req({ excluded }))
    assert.equal(ids(result)[0], contents[2]?.id)
    assert.equal(await count(service(contents, [unit({ page_limit: 5 })])), 25)
  })

  test('an unknown unit and an inactive unit are distinct errors', async () => {
    const svc = service([], [unit({ id: 5, is_active: false })])
    await assert.rejects(svc.allocate(req()), (e) => e instanceof AllotError && e.code === 'UnitNotFound')
    await assert.rejects(
      svc.allocate(req({ unit_id: 5 })),
      (e) => e instanceof AllotError && e.code === 'UnitInactive',
    )
  })

  test('the content-only allocation never returns ads', async () => {
    const result = await service([campaign({ type: 'I' }), campaign({ type: 'C' })]).allocateContents(req())
    assert.equal(result.ads.length, 0)
    assert.equal(result.contents?.length, 1)
  })

  const imp = (campaign_id: number, minutesAgo: number): ActivityItem => ({
    type: 'impression',
    campaign_id,
    at: NOW - minutesAgo * 60_000,
  })

  test('ipu, dipu and tipu stop a campaign once the device reached them in the window', async () => {
    const hourly = campaign({ type: 'I', ipu: 2 })
    const daily = campaign({ type: 'I', dipu: 3 })
    const total = campaign({ type: 'I', tipu: 3 })
    const all = [hourly, daily, total]
    const allowed = async (activity: ActivityItem[]) =>
      ids(await service(all, undefined, undefined, { activity }).allocate(req()))

    assert.deepEqual(
      await allowed([imp(hourly.id, 10)]),
      [hourly.id, daily.id, total.id].sort((a, b) => a - b),
    )
    assert.ok(
      !(await allowed([imp(hourly.id, 10), imp(hourly.id, 50)])).includes(hourly.id),
      'two in the last hour',
    )
    assert.ok(
      (await allowed([imp(hourly.id, 10), imp(hourly.id, 70)])).includes(hourly.id),
      'one is older than an hour',
    )
    const threeToday = [imp(daily.id, 100), imp(daily.id, 600), imp(daily.id, 1400)]
    assert.ok(!(await allowed(threeToday)).includes(daily.id))
    assert.ok(
      (await allowed([...threeToday.slice(0, 2), imp(daily.id, 1500)])).includes(daily.id),
      'one is older than 24 h',
    )
    assert.ok(
      !(await allowed([imp(total.id, 10), imp(total.id, 2000), imp(total.id, 2800)])).includes(total.id),
    )
    const clicks: ActivityItem[] = [1, 2, 3].map((m) => ({
      type: 'click',
      campaign_id: hourly.id,
      at: NOW - m * 60_000,
    }))
    assert.ok((await allowed(clicks)).includes(hourly.id), 'clicks do not count toward impression caps')
  })

  test('when device activity misses the deadline, capped campaigns sit out and the rest is served', async () => {
    const capped = campaign({ type: 'I', ipu: 5 })
    const free = campaign({ type: 'I' })
    const registered = campaign({ type: 'I', registered_days_min: 0 })
    const svc = service([capped, free, registered], undefined, undefined, { slowDevices: true })
    const started = Date.now()
    assert.deepEqual(ids(await svc.allocate(req())), [free.id])
    assert.ok(Date.now() - started < 500, 'the deadline bounds the wait')
  })

  test('registered_days counts whole days since the device first registered on the unit', async () => {
    const veterans = campaign({ type: 'I', registered_days_min: 7 })
    const newcomers = campaign({ type: 'I', registered_days_max: 1 })
    const servedAfter = async (ms: number) =>
      ids(
        await service([veterans, newcomers], undefined, undefined, { registeredAt: NOW - ms }).allocate(
          req(),
        ),
      )
    assert.deepEqual(await servedAfter(7.5 * 86_400_000), [veterans.id])
    assert.deepEqual(await servedAfter(6.9 * 86_400_000), [])
    assert.deepEqual(await servedAfter(3_600_000), [newcomers.id])
  })

  test('a daily impression budget stops the campaign once delivered today reaches it', async () => {
    const budgeted = campaign({ type: 'I', budget_type: 'impression', budget_daily: 100 })
    const day = '20261125'
    const with_ = (n: number) =>
      service([budgeted], undefined, undefined, { counters: { [`imp:${budgeted.id}:${day}`]: n } })
    assert.equal(await count(with_(99)), 1)
    assert.equal(await count(with_(100)), 0)
  })

  test('a total click budget counts clicks, not impressions', async () => {
    const budgeted = campaign({ type: 'J', budget_type: 'click', budget_total: 10 })
    const counters = (clicks: number) => ({
      [`clk:${budgeted.id}`]: clicks,
      [`imp:${budgeted.id}`]: 1_000_000,
    })
    assert.equal(await count(service([budgeted], undefined, undefined, { counters: counters(9) })), 1)
    assert.equal(await count(service([budgeted], undefined, undefined, { counters: counters(10) })), 0)
  })

  test('even pacing holds delivery to the elapsed share of the day plus the slack', async () => {
    // 03:30 UTC = 14.58 % of the day: 1000 × 0.1458 + 20 slack ≈ 165.8.
    const paced = campaign({
      type: 'I',
      budget_type: 'impression',
      budget_daily: 1000,
      budget_pacing: 'even',
    })
    const asap = campaign({ type: 'I', budget_type: 'impression', budget_daily: 1000 })
    const with_ = (n: number) =>
      service([paced, asap], undefined, undefined, {
        counters: { [`imp:${paced.id}:20261125`]: n, [`imp:${asap.id}:20261125`]: n },
      })
    assert.deepEqual(ids(await with_(165).allocate(req())).sort(), [paced.id, asap.id].sort())
    assert.deepEqual(ids(await with_(166).allocate(req())), [asap.id])
  })

  test('a full top priority tier fills the pool; when it falls short, lower tiers fill the rest', async () => {
    const top = Array.from({ length: 30 }, () => campaign({ type: 'I', first_display_priority: 5 }))
    const low = Array.from({ length: 10 }, () => campaign({ type: 'I', first_display_priority: 1 }))
    // Interleaved in the catalog, so the result depends on ranking, not on the catalog order.
    const mixed = top.flatMap((c, i) => (low[i] ? [c, low[i] as Campaign] : [c]))
    const full = await service(mixed).allocate(req())
    assert.equal(full.ads.length, 25)
    assert.ok(served(full).every((c) => c.first_display_priority === 5))

    // Only 20 of the top tier are servable for a male device: the 5 left come from the next tier.
    const targeted = top.map((c, i) => (i < 10 ? { ...c, target_gender: ['F'] } : c))
    const short = await service([...targeted, ...low]).allocate(req({ sex: 'M' }))
    const priorities = served(short).map((c) => c.first_display_priority)
    assert.deepEqual(priorities, [...Array(20).fill(5), ...Array(5).fill(1)])
  })

  test('inside a priority tier, ads are ordered by a weighted random pick', async () => {
    const heavy = campaign({ type: 'I', display_weight: 9 })
    const light = campaign({ type: 'I', display_weight: 1 })
    const top = campaign({ type: 'I', first_display_priority: 1, display_weight: 1 })
    let firsts = 0
    let seed = 1
    // A small deterministic LCG stands in for Math.random.
    const random = () => {
      seed = (seed * 48271) % 2147483647
      return seed / 2147483647
    }
    const svc = service([heavy, light, top], undefined, undefined, { random })
    for (let i = 0; i < 1000; i++) {
      const order = ids(await svc.allocate(req()))
      assert.equal(order[0], top.id, 'the higher tier always leads')
      if (order[1] === heavy.id) firsts++
    }
    assert.ok(firsts > 850 && firsts < 950, `weight 9 vs 1 leads ~90 % of the time, got ${firsts / 10} %`)
  })

  test('contents rank by CTR, affinity and freshness, and seen items drop', async () => {
    const popular = campaign({ type: 'C', categories: ['news'], published_at: NOW - 5 * HOUR })
    const liked = campaign({ type: 'C', categories: ['sports'], published_at: NOW - 5 * HOUR })
    const plain = campaign({ type: 'C', categories: ['news'], published_at: NOW - 5 * HOUR })
    const rank = async (fakes: Fakes) =>
      ids(await service([popular, liked, plain], undefined, undefined, fakes).allocate(req()))
    const counters = { [`imp:${popular.id}`]: 1000, [`clk:${popular.id}`]: 100 }
    assert.equal((await rank({ counters }))[0], popular.id, 'a 10 % CTR beats the 2 % prior')
    const profile = { device_id: 1, category_scores: { sports: 10, news: 1 }, updated_at: 0 }
    assert.deepEqual(
      (await rank({ profile }))[0],
      liked.id,
      'the favourite category leads when CTRs are equal',
    )
    assert.notEqual(
      (await rank({ counters, activity: [imp(popular.id, 5)] }))[0],
      popular.id,
      'seen items drop',
    )
  })

  test('the bounded content scan returns exactly the top contents a full ranking would', async () => {
    let seed = 7
    const rnd = () => {
      seed = (seed * 48271) % 2147483647
      return seed / 2147483647
    }
    const cats = ['news', 'sports', 'tech', 'fun']
    const contents = Array.from({ length: 400 }, (_, i) =>
      campaign({
        type: 'C',
        categories: [cats[i % 4] as string],
        display_weight: 1 + Math.floor(rnd() * 10),
        published_at: NOW - Math.floor(rnd() * 72) * HOUR,
        target_gender: rnd() < 0.3 ? ['F'] : [],
      }),
    )
    const counters: Record<string, number> = {}
    for (const c of contents) {
      counters[`imp:${c.id}`] = Math.floor(rnd() * 2000)
      counters[`clk:${c.id}`] = Math.floor(rnd() * 80)
    }
    const activity = contents.slice(0, 60).map((c) => imp(c.id, 3))
    const profiles = [undefined, { device_id: 1, category_scores: { tech: 3, news: 1 }, updated_at: 0 }]
    for (const profile of profiles) {
      const fakes: Fakes = { counters, activity, ...(profile ? { profile } : {}) }
      const got = ids(
        await service(contents, undefined, undefined, fakes).allocateContents(req({ sex: 'M' })),
      )
      const top = profile ? 3 : 0
      const servable = contents.filter((c) => c.target_gender.length === 0)
      const expected = rankContents(
        servable.map((campaign) => ({ campaign })),
        (c) => ({
          impressions: counters[`imp:${c.id}`] ?? 0,
          clicks: counters[`clk:${c.id}`] ?? 0,
          affinity: profile ? categoryAffinity(c.categories, profile.category_scores, top) : 0,
          seen: activity.some((a) => a.campaign_id === c.id),
        }),
        NOW,
        25,
      ).map((e) => e.campaign.id)
      assert.deepEqual(got, expected, profile ? 'with a profile' : 'without a profile')
    }
  })

  test("the request's content filters and the unit's filtered providers remove contents, never ads", async () => {
    const news = campaign({ type: 'C', categories: ['news'] })
    const sports = campaign({ type: 'C', categories: ['sports'] })
    const channelled = campaign({ type: 'C', categories: ['sports'], channel_id: 7 })
    const filtered = campaign({ type: 'C', categories: ['sports'], provider_id: 99 })
    const ad = campaign({ type: 'I', categories: ['news'] })
    const svc = service([news, sports, channelled, filtered, ad], [unit({ filtered_providers: [99] })])
    const got = async (extra: Partial<AllocationRequest>) => ids(await svc.allocate(req(extra))).sort()
    assert.deepEqual(await got({}), [news.id, sports.id, channelled.id, ad.id].sort())
    assert.deepEqual(
      await got({ filter_categories: 'news', filter_channel_ids: '7' }),
      [sports.id, ad.id].sort(),
    )
    assert.deepEqual(await got({ categories: 'news' }), [news.id, ad.id].sort())
    assert.deepEqual(
      await got({ categories: 'news,sports', filter_channel_ids: ' 7 ,x' }),
      [news.id, sports.id, ad.id].sort(),
    )
  })
})
