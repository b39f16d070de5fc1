import type { Campaign, Unit } from '../domain/catalog.js'
import type { CampaignIndex } from '../domain/catalog-index.js'
import type { ContentConfig } from '../domain/content-config.js'
import { contentFilter } from '../domain/content-config.js'
import { counterKeys, utcDay } from '../domain/counter-keys.js'
import {
  type ActivitySummary,
  type Delivery,
  hasCaps,
  summarizeActivity,
  withinBudget,
  withinCaps,
} from '../domain/delivery.js'
import type { ActivityItem, DeviceProfile } from '../domain/device.js'
import { AllotError } from '../domain/errors.js'
import {
  CONTENT_WEIGHTS,
  type ContentSignals,
  categoryAffinity,
  contentScore,
  rankAds,
  rankContents,
  topScore,
} from '../domain/ranking.js'
import { isLive, localYear, type UpcomingSlot, upcomingSlots } from '../domain/schedule.js'
import { type DeviceContext, normalizeTargetValue } from '../domain/targeting.js'
import type { UpstreamAd, UpstreamQuery } from './ad-network.service.js'
import type { CatalogEntry, CatalogSnapshot } from './catalog.service.js'
import type { PayloadSigner } from './payload-signer.js'

/** What the SDK sends (DESIGN §3); optional fields the SDK did not send are undefined. */
export type AllocationRequest = {
  unit_id: number
  device_id: number
  ifa?: string
  unit_device_token?: string
  sdk_version?: number
  device_name?: string
  device_os?: number
  carrier?: string
  language?: string
  country?: string
  timezone?: string
  year_of_birth?: number
  sex?: string
  region?: string
  custom_target_1?: string
  custom_target_2?: string
  custom_target_3?: string
  installed_packages?: string
  /** Comma-separated campaign ids the SDK already holds and does not want again. */
  excluded?: string
}

export type AllocatedItem = {
  id: number
  name: string
  type: string
  is_ad: boolean
  title: string
  description: string
  image: string
  click_url: string
  impression_urls: string[]
  landing_type: number
  display_type: string
  first_display_priority: number
  first_display_weight: number
  slot: number[]
  started_at: number
  ended_at: number
  ipu: number | null
  dipu: number | null
  tipu: number | null
  unlock_reward: number
  landing_reward: number
  action_reward: number
  base_reward: number
  category: string | null
  channel: number | null
  payload: string
}

export type AllocationSettings = {
  first_display_ratio: string
  page_display_ratio: string
  page_limit: number
  base_init_period: number
  request_trigger: number
  request_period: number
  shuffle_option: number
}

export type AllocationResult = { campaigns: AllocatedItem[]; settings: AllocationSettings }

export type AllocationService = {
  allocate(request: AllocationRequest): Promise<AllocationResult>
  allocateContents(request: AllocationRequest): Promise<AllocationResult>
}

/** What allocation reads about a device beyond its request. */
export type DeviceView = {
  profile: DeviceProfile | null
  contentConfig: ContentConfig | null
  registrations: ReadonlyMap<number, number>
  activity: readonly ActivityItem[]
}

/** Per-device data, cached (see device-cache.service.ts); `load` records the unit registration if new. */
export type DeviceDataSource = { load(deviceId: number, unitId: number, now: number): Promise<DeviceView> }

/** Counter values (CTR, budget delivery) known without I/O; see counter-mirror.service.ts. */
export type CounterValues = {
  value(key: string): number
  totals(campaignId: number): { impressions: number; clicks: number }
}

/** Upstream ad networks (see ad-network.service.ts); never rejects, answers within its deadline. */
export type UpstreamAds = { fetchAds(unit: Unit, query: UpstreamQuery): Promise<UpstreamAd[]> }

type Deps = {
  catalog: { current(): CatalogSnapshot }
  upstream?: UpstreamAds | undefined
  signer: PayloadSigner
  clock: () => number
  random: () => number
  devices: DeviceDataSource
  counters: CounterValues
  /** Each per-device read that takes longer is dropped from this allocation (ms). */
  deadlineMs: number
  onDeadline?: (what: string) => void
}

const PAYLOAD_GRACE_MS = 7 * 24 * 3_600_000
/** How long a content bucket's score bounds are reused (counters move between rebuilds). */
const BOUND_TTL_MS = 1_000
const DAY_MS = 86_400_000
const MIN_POOL = 25

/** What one allocation knows about the device beyond its request; undefined = unknown in time. */
type DeviceData = {
  registeredAt: number | undefined
  profile: DeviceProfile | undefined
  activity: ActivitySummary | undefined
  contentConfig: ContentConfig | undefined
}

/** Builds the ranked pool of ads and contents for one device on one unit (DESIGN §4). */
export function createAllocationService(deps: Deps): AllocationService {
  const { catalog, signer, clock, random, counters } = deps

  async function allocate(request: AllocationRequest, withAds: boolean): Promise<AllocationResult> {
    const snapshot = catalog.current()
    const unit = resolveUnit(snapshot, request.unit_id)
    const now = clock()
    const limit = Math.max(unit.page_limit, MIN_POOL)
    // Upstream networks run while the device data loads; both are bounded by their deadlines.
    const upstream =
      withAds && unit.ad_sources.length > 0 && deps.upstream
        ? deps.upstream.fetchAds(unit, upstreamQuery(request, unit, limit))
        : undefined
    const data = await loadDeviceData(request.device_id, unit.id, now)
    const device = describeDevice(request, unit, now, data.registeredAt)
    const slots = upcomingSlots(unit.timezone, now)
    const eligible = eligibility(unit, device, data, slots, parseIdList(request.excluded), now)
    const day = utcDay(now)
    // One pass over the plausible buckets: every rule, then the budget, straight into the ranking input.
    const servable = (e: CatalogEntry) => {
      const c = e.campaign
      return eligible(e) && (c.budget_type === null || withinBudget(c, deliveryOf(c, day), now))
    }
    // Ad buckets are sorted by priority (highest first) and ranking takes whole tiers first, so once the
    // tiers scanned so far hold `limit` servable ads, lower tiers cannot reach the pool: stop there.
    const adCandidates = (index: CampaignIndex<CatalogEntry>) => {
      const buckets = index.buckets(unit.id, device.country)
      const at = buckets.map(() => 0)
      const out: Campaign[] = []
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
            if (servable(list[i] as CatalogEntry)) out.push((list[i] as CatalogEntry).campaign)
          }
          at[b] = i
        }
      }
      return out
    }

    const ads = withAds ? rankAds(adCandidates(snapshot.adIndex), random, limit) : []
    const buckets = snapshot.contentIndex.buckets(unit.id, device.country)
    const contents = rankContentsFor(contentCandidates(buckets, servable, data, now, limit), data, now, limit)
    const shape = (c: Campaign) => shapeItem(c, unit, request, slots, signer)
    const items = ads.map(shape)
    // Upstream ads follow the local ones (which carry rewards), best eCPM first, within the pool size.
    if (upstream) {
      const external = (await upstream).slice(0, Math.max(0, limit - items.length))
      for (const [i, ad] of external.entries())
        items.push(shapeUpstream(ad, -(i + 1), unit, request, slots, now, signer))
    }
    for (const c of contents) items.push(shape(c))
    return { campaigns: items, settings: settingsOf(unit) }
  }

  /** The device's cached data under the deadline; late or failed means unknown for this allocation. */
  async function loadDeviceData(deviceId: number, unitId: number, now: number): Promise<DeviceData> {
    const view = await withinDeadline('device data', deps.devices.load(deviceId, unitId, now))
    return {
      registeredAt: view?.registrations.get(unitId),
      profile: view?.profile ?? undefined,
      activity: view && summarizeActivity(view.activity, now),
      contentConfig: view?.contentConfig ?? undefined,
    }
  }

  function withinDeadline<T>(what: string, work: Promise<T>): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => {
        deps.onDeadline?.(what)
        resolve(undefined)
      }, deps.deadlineMs)
    })
    const settled = work.then(
      (value) => value,
      () => {
        deps.onDeadline?.(what)
        return undefined
      },
    )
    return Promise.race([settled, late]).finally(() => clearTimeout(timer))
  }

  /** What a budgeted campaign delivered, in its budget's unit (impressions or clicks). */
  function deliveryOf(c: Campaign, day: string): Delivery {
    return c.budget_type === 'click'
      ? {
          total: counters.value(counterKeys.clicks(c.id)),
          today: counters.value(counterKeys.dailyClicks(c.id, day)),
        }
      : {
          total: counters.value(counterKeys.impressions(c.id)),
          today: counters.value(counterKeys.dailyImpressions(c.id, day)),
        }
  }

  function contentSignals(data: DeviceData): (c: Campaign) => ContentSignals {
    const scores = data.profile?.category_scores ?? {}
    const top = topScore(scores)
    const seen = data.activity?.seen
    return (c) => ({
      ...counters.totals(c.id),
      affinity: categoryAffinity(c.categories, scores, top),
      seen: seen?.has(c.id) ?? false,
    })
  }

  function rankContentsFor(contents: Campaign[], data: DeviceData, now: number, limit: number): Campaign[] {
    return rankContents(contents, contentSignals(data), now, limit)
  }

  /**
   * Each content bucket, ordered by the best score any device could give its items (favourite category,
   * unseen) as of `at`. Freshness only decays, so the bound holds until the counters move; it is rebuilt
   * every BOUND_TTL_MS, when the snapshot changes (new bucket arrays) or when the clock goes back.
   */
  const bounds = new WeakMap<
    readonly CatalogEntry[],
    { at: number; entries: CatalogEntry[]; ub: Float64Array }
  >()
  function boundsOf(bucket: readonly CatalogEntry[], now: number) {
    const known = bounds.get(bucket)
    if (known && now >= known.at && now - known.at < BOUND_TTL_MS) return known
    const scored = bucket.map((e) => ({
      e,
      ub: contentScore(e.campaign, { ...counters.totals(e.campaign.id), affinity: 1, seen: false }, now),
    }))
    scored.sort((a, b) => b.ub - a.ub)
    const fresh = { at: now, entries: scored.map((s) => s.e), ub: Float64Array.from(scored, (s) => s.ub) }
    bounds.set(bucket, fresh)
    return fresh
  }

  /**
   * The servable contents that can still reach the top `limit`: buckets are walked best bound first, and
   * the walk stops once the bound of every remaining item is below the `limit`-th best exact score so far.
   */
  function contentCandidates(
    buckets: readonly (readonly CatalogEntry[])[],
    servable: (e: CatalogEntry) => boolean,
    data: DeviceData,
    now: number,
    limit: number,
  ): Campaign[] {
    const lists = buckets.map((b) => boundsOf(b, now))
    const at = lists.map(() => 0)
    const signals = contentSignals(data)
    // Bounds assume the favourite category; a device without category scores has affinity 0 everywhere,
    // which lowers every bound by the same amount (the order stays).
    const slack = topScore(data.profile?.category_scores ?? {}) > 0 ? 0 : CONTENT_WEIGHTS.affinity
    // The best `limit` exact scores seen so far, ascending; best[0] is the bar to beat once full.
    const best: number[] = []
    const out: Campaign[] = []
    for (;;) {
      let pick = -1
      for (let b = 0; b < lists.length; b++) {
        const list = lists[b] as (typeof lists)[number]
        const i = at[b] as number
        if (
          i < list.entries.length &&
          (pick < 0 || (list.ub[i] as number) > (lists[pick]?.ub[at[pick] as number] as number))
        )
          pick = b
      }
      if (pick < 0) break
      const list = lists[pick] as (typeof lists)[number]
      const i = at[pick] as number
      at[pick] = i + 1
      if (best.length === limit && (list.ub[i] as number) - slack < (best[0] as number)) break
      const entry = list.entries[i] as CatalogEntry
      if (!servable(entry)) continue
      out.push(entry.campaign)
      const score = contentScore(entry.campaign, signals(entry.campaign), now)
      if (best.length < limit) best.splice(sortedIndex(best, score), 0, score)
      else if (score > (best[0] as number)) {
        best.shift()
        best.splice(sortedIndex(best, score), 0, score)
      }
    }
    return out
  }

  return {
    allocate: (request) => allocate(request, true),
    allocateContents: (request) => allocate(request, false),
  }
}

function resolveUnit(snapshot: CatalogSnapshot, unitId: number): Unit {
  const unit = snapshot.units.get(unitId)
  if (!unit) throw new AllotError('UnitNotFound', `unit_id ${unitId} does not exist`)
  if (!unit.is_active) throw new AllotError('UnitInactive', `unit_id ${unitId} is not active`)
  return unit
}

/** Every rule that can drop a candidate before ranking, as one predicate. */
function eligibility(
  unit: Unit,
  device: DeviceContext,
  data: DeviceData,
  slots: readonly UpcomingSlot[],
  excluded: ReadonlySet<number>,
  now: number,
): (entry: CatalogEntry) => boolean {
  const filteredProviders = new Set(unit.filtered_providers)
  const allowedByConfig = contentFilter(data.contentConfig)
  const currentSlot = slots[0]?.slot ?? -1
  const { activity } = data
  return ({ campaign: c, matches, slots: allowed }) =>
    isLive(c, now) &&
    (allowed === undefined || allowed[currentSlot] === 1) &&
    !excluded.has(c.id) &&
    (c.provider_id === null || !filteredProviders.has(c.provider_id)) &&
    allowedByConfig(c) &&
    // Unknown activity (store too slow) means caps cannot be proven, so capped campaigns sit this one out.
    (!hasCaps(c) || (activity !== undefined && withinCaps(c, activity))) &&
    matches(device)
}

/** Turns the request's raw fields into normalised device attributes; what is absent stays undefined. */
function describeDevice(
  request: AllocationRequest,
  unit: Unit,
  now: number,
  registeredAt?: number,
): DeviceContext {
  const text = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v)
  const year = localYear(unit.timezone, now)
  return {
    unitId: unit.id,
    appId: unit.app_id,
    age: request.year_of_birth === undefined ? undefined : year - request.year_of_birth,
    gender: text(request.sex) && normalizeTargetValue('gender', request.sex as string),
    language: text(request.language) && normalizeTargetValue('language', request.language as string),
    carrier: text(request.carrier) && normalizeTargetValue('carrier', request.carrier as string),
    region: text(request.region) && normalizeTargetValue('region', request.region as string),
    country: text(request.country) && normalizeTargetValue('country', request.country as string),
    os: request.device_os,
    sdk: request.sdk_version,
    registeredDays: registeredAt === undefined ? undefined : Math.floor((now - registeredAt) / DAY_MS),
    installedPackages: parseList(request.installed_packages),
    customTargets: [
      parseList(request.custom_target_1),
      parseList(request.custom_target_2),
      parseList(request.custom_target_3),
    ],
  }
}

function parseList(value: string | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  return items.length === 0 ? undefined : new Set(items)
}

function parseIdList(value: string | undefined): ReadonlySet<number> {
  return new Set([...(parseList(value) ?? [])].map(Number).filter(Number.isSafeInteger))
}

function shapeItem(
  campaign: Campaign,
  unit: Unit,
  request: AllocationRequest,
  slots: readonly UpcomingSlot[],
  signer: PayloadSigner,
): AllocatedItem {
  const allowed = campaign.week_slot
  const slot = slots.filter((s) => allowed.length === 0 || allowed.includes(s.slot)).map((s) => s.hour)
  const payload = signer.sign({
    d: request.device_id,
    u: unit.id,
    c: campaign.id,
    ...(request.unit_device_token ? { t: request.unit_device_token } : {}),
    r: {
      u: campaign.unlock_reward,
      l: campaign.landing_reward,
      a: campaign.action_reward,
      b: unit.base_reward,
    },
    exp: Math.floor((campaign.end_date + PAYLOAD_GRACE_MS) / 1000),
  })
  return {
    id: campaign.id,
    name: campaign.name,
    type: campaign.type,
    is_ad: campaign.is_ad,
    title: campaign.title,
    description: campaign.description,
    image: campaign.image,
    click_url: campaign.click_url,
    impression_urls: campaign.impression_urls,
    landing_type: campaign.landing_type,
    display_type: campaign.display_type,
    first_display_priority: campaign.first_display_priority,
    first_display_weight: campaign.display_weight,
    slot,
    started_at: Math.floor(campaign.start_date / 1000),
    ended_at: Math.floor(campaign.end_date / 1000),
    ipu: campaign.ipu,
    dipu: campaign.dipu,
    tipu: campaign.tipu,
    unlock_reward: campaign.unlock_reward,
    landing_reward: campaign.landing_reward,
    action_reward: campaign.action_reward,
    base_reward: unit.base_reward,
    category: campaign.categories[0] ?? null,
    channel: campaign.channel_id,
    payload,
  }
}

function settingsOf(unit: Unit): AllocationSettings {
  return {
    first_display_ratio: unit.first_display_ratio,
    page_display_ratio: unit.page_display_ratio,
    page_limit: unit.page_limit,
    base_init_period: unit.base_init_period,
    request_trigger: unit.request_trigger,
    request_period: unit.request_period,
    shuffle_option: unit.shuffle_option,
  }
}

function upstreamQuery(request: AllocationRequest, unit: Unit, limit: number): UpstreamQuery {
  return {
    unit_id: unit.id,
    app_id: unit.app_id,
    device_id: request.device_id,
    ifa: request.ifa,
    country: request.country ?? unit.country,
    language: request.language,
    sex: request.sex,
    year_of_birth: request.year_of_birth,
    device_os: request.device_os,
    carrier: request.carrier,
    limit,
  }
}

const UPSTREAM_TYPE = { cpm: 'I', cpc: 'J', cpa: 'B' } as const

/**
 * An upstream ad as an item: negative id (unique in the response, never a local campaign), no rewards, all
 * upcoming hours; it counts through its own impression_urls. Its payload is signed like any other, and the
 * event endpoints refuse it (campaign_id must be a local campaign).
 */
function shapeUpstream(
  ad: UpstreamAd,
  id: number,
  unit: Unit,
  request: AllocationRequest,
  slots: readonly UpcomingSlot[],
  now: number,
  signer: PayloadSigner,
): AllocatedItem {
  const endsAt = now + 3_600_000
  return {
    id,
    name: `${ad.source}:${ad.external_id}`,
    type: UPSTREAM_TYPE[ad.revenue_type],
    is_ad: true,
    title: ad.title,
    description: ad.description,
    image: ad.image,
    click_url: ad.click_url,
    impression_urls: ad.impression_urls,
    landing_type: 1,
    display_type: 'A',
    first_display_priority: 0,
    first_display_weight: 1,
    slot: slots.map((s) => s.hour),
    started_at: Math.floor(now / 1000),
    ended_at: Math.floor(endsAt / 1000),
    ipu: null,
    dipu: null,
    tipu: null,
    unlock_reward: 0,
    landing_reward: 0,
    action_reward: 0,
    base_reward: unit.base_reward,
    category: null,
    channel: null,
    payload: signer.sign({
      d: request.device_id,
      u: unit.id,
      c: id,
      r: { u: 0, l: 0, a: 0, b: unit.base_reward },
      exp: Math.floor(endsAt / 1000),
    }),
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
