import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Campaign, Unit } from '../../src/domain/catalog.js'
import type { ContentConfig } from '../../src/domain/content-config.js'
import type { ActivityItem, DeviceProfile } from '../../src/domain/device.js'
import { type CampaignInput, campaignDraft, unitDraft } from '../../src/domain/drafts.js'
import { AllotError } from '../../src/domain/errors.js'
import { categoryAffinity, rankContents } from '../../src/domain/ranking.js'
import { type AllocationRequest, createAllocationService } from '../../src/services/allocation.service.js'
import { catalogSnapshot } from '../../src/services/catalog.service.js'
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

type Fakes = {
  activity?: ActivityItem[]
  registeredAt?: number
  profile?: DeviceProfile
  contentConfig?: ContentConfig
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
    signer: createPayloadSigner('s'.repeat(32)),
    clock,
    random: fakes.random ?? (() => 0.5),
    devices: {
      load: async (_device, unitId, now) =>
        fakes.slowDevices
          ? never
          : {
              profile: fakes.profile ?? null,
              contentConfig: fakes.contentConfig ?? null,
              registrations: new Map([[unitId, fakes.registeredAt ?? now]]),
              activity: fakes.activity ?? [],
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
const count = async (svc: Service, extra: Partial<AllocationRequest> = {}) =>
  (await svc.allocate({ unit_id: 1001, device_id: 1, ...extra })).campaigns.length
const ids = (r: { campaigns: { id: number }[] }) => r.campaigns.map((c) => c.id)

describe('allocation service', () => {
  test('ads rank by priority, then weight, and come before contents ranked by freshness', async () => {
    const low = campaign({ type: 'I', first_display_priority: 1, display_weight: 9 })
    const high = campaign({ type: 'J', first_display_priority: 5, display_weight: 1 })
    const heavy = campaign({ type: 'I', first_display_priority: 1, display_weight: 20 })
    const old = campaign({ type: 'C', published_at: NOW - 10 * HOUR })
    const fresh = campaign({ type: 'C', published_at: NOW - HOUR })
    const result = await service([low, high, heavy, old, fresh]).allocate({ unit_id: 1001, device_id: 1 })
    assert.deepEqual(ids(result), [high.id, heavy.id, low.id, fresh.id, old.id])
  })

  test('campaigns outside their schedule window, or paused, are not allocated', async () => {
    const future = campaign({ type: 'I', start_date: NOW + HOUR, end_date: NOW + 2 * HOUR })
    const ended = campaign({ type: 'I', start_date: NOW - 2 * HOUR, end_date: NOW })
    const paused = campaign({ type: 'I', status: 'paused' })
    const live = campaign({ type: 'I', start_date: NOW, end_date: NOW + 1 })
    assert.deepEqual(
      ids(await service([future, ended, paused, live]).allocate({ unit_id: 1001, device_id: 1 })),
      [live.id],
    )
  })

  test('week_slot is read in the unit timezone and slot lists the allowed local hours ahead', async () => {
    const wednesdayNoonSeoul = 2 * 24 + 12
    const open = campaign({ type: 'I', week_slot: [wednesdayNoonSeoul, wednesdayNoonSeoul + 2] })
    const closed = campaign({ type: 'I', week_slot: [wednesdayNoonSeoul + 1] })
    const result = await service([open, closed]).allocate({ unit_id: 1001, device_id: 1 })
    assert.deepEqual(ids(result), [open.id])
    assert.deepEqual(result.campaigns[0]?.slot, [12, 14])

    const inUtc = await service([open, closed], [unit({ timezone: 'UTC' })]).allocate({
      unit_id: 1001,
      device_id: 1,
    })
    assert.deepEqual(ids(inUtc), [], 'at 03:30 UTC neither Wednesday-noon slot is open')
  })

  test('age comes from year_of_birth in the unit timezone', async () => {
    // 2026-12-31 20:00 UTC is already 2027 in Seoul.
    const adult = campaign({ type: 'I', target_age_min: 20, target_age_max: 20, end_date: Date.UTC(2030, 0) })
    const snapshotService = service([adult], [unit()], () => Date.UTC(2026, 11, 31, 20))
    assert.equal(await count(snapshotService, { year_of_birth: 2007 }), 1)
    assert.equal(await count(snapshotService, { year_of_birth: 2006 }), 0)
  })

  test('excluded ids are skipped and each kind is capped at max(page_limit, 25)', async () => {
    const contents = Array.from({ length: 40 }, (_, i) => campaign({ type: 'C', published_at: NOW - i }))
    const svc = service(contents, [unit({ page_limit: 30 })])
    assert.equal(await count(svc), 30)
    const excluded = `${contents[0]?.id},${contents[1]?.id}, junk`
    const result = await svc.allocate({ unit_id: 1001, device_id: 1, excluded })
    assert.equal(result.campaigns[0]?.id, contents[2]?.id)
    assert.equal(await count(service(contents, [unit({ page_limit: 5 })])), 25)
  })

  test('an unknown unit and an inactive unit are distinct errors', async () => {
    const svc = service([], [unit({ id: 5, is_active: false })])
    await assert.rejects(
      svc.allocate({ unit_id: 1001, device_id: 1 }),
      (e) => e instanceof AllotError && e.code === 'UnitNotFound',
    )
    await assert.rejects(
      svc.allocate({ unit_id: 5, device_id: 1 }),
      (e) => e instanceof AllotError && e.code === 'UnitInactive',
    )
  })

  test('the content-only allocation never returns ads', async () => {
    const result = await service([campaign({ type: 'I' }), campaign({ type: 'C' })]).allocateContents({
      unit_id: 1001,
      device_id: 1,
    })
    assert.ok(result.campaigns.length === 1 && result.campaigns.every((c) => !c.is_ad))
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
    const served = async (activity: ActivityItem[]) =>
      ids(await service(all, undefined, undefined, { activity }).allocate({ unit_id: 1001, device_id: 1 }))

    assert.deepEqual(
      await served([imp(hourly.id, 10)]),
      [hourly.id, daily.id, total.id].sort((a, b) => a - b),
    )
    assert.ok(
      !(await served([imp(hourly.id, 10), imp(hourly.id, 50)])).includes(hourly.id),
      'two in the last hour',
    )
    assert.ok(
      (await served([imp(hourly.id, 10), imp(hourly.id, 70)])).includes(hourly.id),
      'one is older than an hour',
    )
    const threeToday = [imp(daily.id, 100), imp(daily.id, 600), imp(daily.id, 1400)]
    assert.ok(!(await served(threeToday)).includes(daily.id))
    assert.ok(
      (await served([...threeToday.slice(0, 2), imp(daily.id, 1500)])).includes(daily.id),
      'one is older than 24 h',
    )
    assert.ok(
      !(await served([imp(total.id, 10), imp(total.id, 2000), imp(total.id, 2800)])).includes(total.id),
    )
    const clicks: ActivityItem[] = [1, 2, 3].map((m) => ({
      type: 'click',
      campaign_id: hourly.id,
      at: NOW - m * 60_000,
    }))
    assert.ok((await served(clicks)).includes(hourly.id), 'clicks do not count toward impression caps')
  })

  test('when device activity misses the deadline, capped campaigns sit out and the rest is served', async () => {
    const capped = campaign({ type: 'I', ipu: 5 })
    const free = campaign({ type: 'I' })
    const registered = campaign({ type: 'I', registered_days_min: 0 })
    const svc = service([capped, free, registered], undefined, undefined, { slowDevices: true })
    const started = Date.now()
    assert.deepEqual(ids(await svc.allocate({ unit_id: 1001, device_id: 1 })), [free.id])
    assert.ok(Date.now() - started < 500, 'the deadline bounds the wait')
  })

  test('registered_days counts whole days since the device first registered on the unit', async () => {
    const veterans = campaign({ type: 'I', registered_days_min: 7 })
    const newcomers = campaign({ type: 'I', registered_days_max: 1 })
    const servedAfter = async (ms: number) =>
      ids(
        await service([veterans, newcomers], undefined, undefined, { registeredAt: NOW - ms }).allocate({
          unit_id: 1001,
          device_id: 1,
        }),
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
    assert.deepEqual(
      ids(await with_(165).allocate({ unit_id: 1001, device_id: 1 })).sort(),
      [paced.id, asap.id].sort(),
    )
    assert.deepEqual(ids(await with_(166).allocate({ unit_id: 1001, device_id: 1 })), [asap.id])
  })

  test('a full top priority tier fills the pool; when it falls short, lower tiers fill the rest', async () => {
    const top = Array.from({ length: 30 }, () => campaign({ type: 'I', first_display_priority: 5 }))
    const low = Array.from({ length: 10 }, () => campaign({ type: 'I', first_display_priority: 1 }))
    // Interleaved in the catalog, so the result depends on ranking, not on the catalog order.
    const mixed = top.flatMap((c, i) => (low[i] ? [c, low[i] as Campaign] : [c]))
    const full = await service(mixed).allocate({ unit_id: 1001, device_id: 1 })
    assert.equal(full.campaigns.length, 25)
    assert.ok(full.campaigns.every((c) => c.first_display_priority === 5))

    // Only 20 of the top tier are servable for a male device: the 5 left come from the next tier.
    const targeted = top.map((c, i) => (i < 10 ? { ...c, target_gender: ['F'] } : c))
    const short = await service([...targeted, ...low]).allocate({ unit_id: 1001, device_id: 1, sex: 'M' })
    const priorities = short.campaigns.map((c) => c.first_display_priority)
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
      const order = ids(await svc.allocate({ unit_id: 1001, device_id: 1 }))
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
      ids(
        await service([popular, liked, plain], undefined, undefined, fakes).allocate({
          unit_id: 1001,
          device_id: 1,
        }),
      )
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
        await service(contents, undefined, undefined, fakes).allocateContents({
          unit_id: 1001,
          device_id: 1,
          sex: 'M',
        }),
      )
      const top = profile ? 3 : 0
      const servable = contents.filter((c) => c.target_gender.length === 0)
      const expected = rankContents(
        servable,
        (c) => ({
          impressions: counters[`imp:${c.id}`] ?? 0,
          clicks: counters[`clk:${c.id}`] ?? 0,
          affinity: profile ? categoryAffinity(c.categories, profile.category_scores, top) : 0,
          seen: activity.some((a) => a.campaign_id === c.id),
        }),
        NOW,
        25,
      ).map((c) => c.id)
      assert.deepEqual(got, expected, profile ? 'with a profile' : 'without a profile')
    }
  })

  test("a device's content filters and the unit's filtered providers remove contents", async () => {
    const news = campaign({ type: 'C', categories: ['news'] })
    const channelled = campaign({ type: 'C', channel_id: 7 })
    const hidden = campaign({ type: 'C' })
    const filtered = campaign({ type: 'C', provider_id: 99 })
    const keep = campaign({ type: 'C' })
    const ad = campaign({ type: 'I', categories: ['news'] })
    const contentConfig = { device_id: 1, category: ['news'], channel: [7], campaign: [hidden.id] }
    const svc = service(
      [news, channelled, hidden, filtered, keep, ad],
      [unit({ filtered_providers: [99] })],
      undefined,
      {
        contentConfig,
      },
    )
    assert.deepEqual(ids(await svc.allocate({ unit_id: 1001, device_id: 1 })), [ad.id, keep.id])
  })

  test('slot hours stay right across DST changes in the unit timezone', async () => {
    const ny = [unit({ timezone: 'America/New_York' })]
    const sunday = 6 * 24
    const always = campaign({ type: 'I', start_date: 0, end_date: Date.UTC(2030, 0) })
    const oneAm = campaign({
      type: 'I',
      start_date: 0,
      end_date: Date.UTC(2030, 0),
      week_slot: [sunday, sunday + 1],
    })
    const hours = async (at: number) => {
      const result = await service([always, oneAm], ny, () => at).allocate({ unit_id: 1001, device_id: 1 })
      return Object.fromEntries(result.campaigns.map((c) => [c.id, c.slot]))
    }
    // Fall back, Sunday 2026-11-01: 01:00 happens twice (EDT, then EST).
    const fall = await hours(Date.UTC(2026, 10, 1, 4, 30))
    assert.deepEqual(fall[always.id], [0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert.deepEqual(fall[oneAm.id], [0, 1, 1])
    // Spring forward, Sunday 2026-03-08: 02:00 never happens.
    const spring = await hours(Date.UTC(2026, 2, 8, 6, 30))
    assert.deepEqual(spring[always.id], [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
    assert.deepEqual(spring[oneAm.id], [1])
  })
})
