import type { Campaign, ContentChannel, Unit } from '../domain/catalog.js'
import type { CampaignIndex } from '../domain/catalog-index.js'
import { contentFilter } from '../domain/content-filter.js'
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
import { isLive, localYear, upcomingSlots } from '../domain/schedule.js'
import { localCampaignId, SDK_GATES, targetAge } from '../domain/sdk-v1.js'
import { type DeviceContext, normalizeTargetValue } from '../domain/targeting.js'
import type { UpstreamAd, UpstreamQuery } from './ad-network.service.js'
import type { CatalogEntry, CatalogSnapshot } from './catalog.service.js'

/**
 * An allocation request as the v1 SDK sends it (SDK-CONTRACT §2), already parsed: integers are numbers,
 * a two-digit year of birth is a four-digit one, and optional fields the SDK left out are undefined.
 */
export type AllocationRequest = {
  /** The unit; when absent or unknown, the app's lockscreen unit is used. */
  unit_id?: number | undefined
  app_id?: number | undefined
  device_id: number
  ifa: string
  unit_device_token: string
  sdk_version: number
  timezone?: string | undefined
  year_of_birth?: number | undefined
  sex?: string | undefined
  region?: string | undefined
  carrier?: string | undefined
  country?: string | undefined
  /** Comma list; the first language targets. */
  language?: string | undefined
  device_os?: number | undefined
  device_name?: string | undefined
  /** Epoch seconds of the device's registration, overriding what Allot recorded. */
  registered_date?: number | undefined
  custom_target_1?: string | undefined
  custom_target_2?: string | undefined
  custom_target_3?: string | undefined
  /** Comma lists: only these content categories; not these categories; not these channels. */
  categories?: string | undefined
  filter_categories?: string | undefined
  filter_channel_ids?: string | undefined
  settings_page_display_ratio?: string | undefined
  /** Allot extra: comma-separated wire ids the SDK already holds and does not want again. */
  excluded?: string | undefined
}

/** What one allocation decided, in domain terms; the HTTP layer shapes it into the v1 answer. */
export type Allocation = {
  unit: Unit
  request: AllocationRequest
  now: number
  /** The unit-local week slot at `now` (weekday × 24 + hour, Monday 00h = 0). */
  currentSlot: number
  ads: readonly CatalogEntry[]
  upstream: readonly UpstreamAd[]
  /** null when the unit takes no contents (v1 content type "none"). */
  contents: readonly CatalogEntry[] | null
  channels: ReadonlyMap<number, ContentChannel>
}

export type AllocationService = {
  allocate(request: AllocationRequest): Promise<Allocation>
  allocateContents(request: AllocationRequest): Promise<Allocation>
}

/** What allocation reads about a device beyond its request. */
export type DeviceView = {
  profile: DeviceProfile | null
  registrations: ReadonlyMap<number, number>
  activity: readonly ActivityItem[]
}

/** Per-device data, cached (see device-cache.service.ts); `load` records the unit registration if new. */
export type DeviceDataSource = { load(deviceId: number, unitId: number, now: number): Promise<DeviceView> }

/** The packages an app's user has installed (uploaded with /api/update_installed_apps/), by app and ifa. */
export type InstalledPackages = {
  packages(appId: number, ifa: string): Promise<ReadonlySet<string> | undefined>
}

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
  installed?: InstalledPackages | undefined
  clock: () => number
  random: () => number
  devices: DeviceDataSource
  counters: CounterValues
  /** Each per-device read that takes longer is dropped from this allocation (ms). */
  deadlineMs: number
  onDeadline?: (what: string) => void
}

/** How long a content bucket's score bounds are reused (counters move between rebuilds). */
const BOUND_TTL_MS = 1_000
const DAY_MS = 86_400_000
const MIN_POOL = 25

/** What one allocation knows about the device beyond its request; undefined = unknown in time. */
type DeviceData = {
  registeredAt: number | undefined
  profile: DeviceProfile | undefined
  activity: ActivitySummary | undefined
  installed: ReadonlySet<string> | undefined
}

/** Builds the ranked pool of ads and contents for one device on one unit (DESIGN §4). */
export function createAllocationService(deps: Deps): AllocationService {
  const { catalog, clock, random, counters } = deps

  async function allocate(request: AllocationRequest, withAds: boolean): Promise<Allocation> {
    const snapshot = catalog.current()
    const unit = resolveUnit(snapshot, request)
    const now = clock()
    const limit = Math.max(unit.page_limit, MIN_POOL)
    const adsWanted = withAds && unit.ad_type !== 'none' && request.sdk_version >= SDK_GATES.minForAds
    // Upstream networks run while the device data loads; both are bounded by their deadlines.
    const upstream =
      adsWanted && unit.ad_sources.length > 0 && deps.upstream
        ? deps.upstream.fetchAds(unit, upstreamQuery(request, unit, limit))
        : undefined
    const data = await loadDeviceData(request, unit, now, snapshot.usesAppTargeting)
    const device = describeDevice(request, unit, now, data)
    const currentSlot = upcomingSlots(unit.timezone, now)[0]?.slot ?? 0
    const eligible = eligibility(unit, device, data, currentSlot, request, now)
    const day = utcDay(now)
    // One pass over the plausible buckets: every rule, then the budget, straight into the ranking input.
    const servable = (e: CatalogEntry) => {
      const c = e.campaign
      return eligible(e) && (c.budget_type === null || withinBudget(c, deliveryOf(c, day), now))
    }
    const ads = adsWanted
      ? rankAds(adCandidates(snapshot.adIndex, unit, device, servable, limit), random, limit)
      : []
    const contents =
      unit.content_type === 'none'
        ? null
        : rankContentsFor(
            contentCandidates(
              snapshot.contentIndex.buckets(unit.id, device.country),
              servable,
              data,
              now,
              limit,
            ),
            data,
            now,
            limit,
          )
    // Upstream ads follow the local ones (which carry rewards), best eCPM first, within the pool size.
    const external = upstream ? (await upstream).slice(0, Math.max(0, limit - ads.length)) : []
    return {
      unit,
      request,
      now,
      currentSlot,
      ads,
      upstream: external,
      contents,
      channels: snapshot.channelsById,
    }
  }

  /**
   * The device's cached data (and, when some campaign targets installed apps, its installed packages)
   * under the deadline, read in parallel; late or failed means unknown for this allocation.
   */
  async function loadDeviceData(
    request: AllocationRequest,
    unit: Unit,
    now: number,
    needsPackages: boolean,
  ): Promise<DeviceData> {
    const appId = request.app_id ?? unit.app_id
    const [view, installed] = await Promise.all([
      withinDeadline('device data', deps.devices.load(request.device_id, unit.id, now)),
      needsPackages && deps.installed && request.ifa !== ''
        ? withinDeadline('installed apps', deps.installed.packages(appId, request.ifa))
        : undefined,
    ])
    return {
      registeredAt: view?.registrations.get(unit.id),
      profile: view?.profile ?? undefined,
      activity: view && summarizeActivity(view.activity, now),
      installed,
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

  function rankContentsFor(
    contents: CatalogEntry[],
    data: DeviceData,
    now: number,
    limit: number,
  ): CatalogEntry[] {
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
  ): CatalogEntry[] {
    const lists = buckets.map((b) => boundsOf(b, now))
    const at = lists.map(() => 0)
    const signals = contentSignals(data)
    // Bounds assume the favourite category; a device without category scores has affinity 0 everywhere,
    // which lowers every bound by the same amount (the order stays).
    const slack = topScore(data.profile?.category_scores ?? {}) > 0 ? 0 : CONTENT_WEIGHTS.affinity
    // The best `limit` exact scores seen so far, ascending; best[0] is the bar to beat once full.
    const best: number[] = []
    const out: CatalogEntry[] = []
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
      out.push(entry)
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

/** The unit by `unit_id`; when it is absent or unknown, the lockscreen unit of `app_id` (SDK-CONTRACT §2). */
function resolveUnit(snapshot: CatalogSnapshot, request: AllocationRequest): Unit {
  const unit =
    (request.unit_id === undefined ? undefined : snapshot.units.get(request.unit_id)) ??
    (request.app_id === undefined ? undefined : snapshot.lockscreenUnitsByApp.get(request.app_id))
  if (!unit) {
    const which = request.unit_id === undefined ? `app_id ${request.app_id}` : `unit_id ${request.unit_id}`
    throw new AllotError('UnitNotFound', `${which} has no unit`)
  }
  if (!unit.is_active) throw new AllotError('UnitInactive', `unit_id ${unit.id} is not active`)
  return unit
}

/**
 * Ad buckets are sorted by priority (highest first) and ranking takes whole tiers first, so once the tiers
 * scanned so far hold `limit` servable ads, lower tiers cannot reach the pool: stop there.
 */
function adCandidates(
  index: CampaignIndex<CatalogEntry>,
  unit: Unit,
  device: DeviceContext,
  servable: (e: CatalogEntry) => boolean,
  limit: number,
): CatalogEntry[] {
  const buckets = index.buckets(unit.id, device.country)
  const at = buckets.map(() => 0)
  const out: CatalogEntry[] = []
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
        if (servable(list[i] as CatalogEntry)) out.push(list[i] as CatalogEntry)
      }
      at[b] = i
    }
  }
  return out
}

/** Every rule that can drop a candidate before ranking, as one predicate. */
function eligibility(
  unit: Unit,
  device: DeviceContext,
  data: DeviceData,
  currentSlot: number,
  request: AllocationRequest,
  now: number,
): (entry: CatalogEntry) => boolean {
  const filteredProviders = new Set(unit.filtered_providers)
  const excluded = parseIdList(request.excluded)
  const allowedByFilters = contentFilter({
    categories: parseList(request.categories),
    excludedCategories: parseList(request.filter_categories),
    excludedChannels: parseIdSet(request.filter_channel_ids),
  })
  const { activity } = data
  return ({ campaign: c, matches, slots: allowed }) =>
    isLive(c, now) &&
    (allowed === undefined || allowed[currentSlot] === 1) &&
    !excluded.has(c.id) &&
    (c.provider_id === null || !filteredProviders.has(c.provider_id)) &&
    allowedByFilters(c) &&
    // Unknown activity (store too slow) means caps cannot be proven, so capped campaigns sit this one out.
    (!hasCaps(c) || (activity !== undefined && withinCaps(c, activity))) &&
    matches(device)
}

/** Turns the request's raw fields into normalised device attributes; what is absent stays undefined. */
function describeDevice(
  request: AllocationRequest,
  unit: Unit,
  now: number,
  data: DeviceData,
): DeviceContext {
  const text = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v)
  const language = text(request.language?.split(',')[0])
  // The request's country wins over the unit's; a global unit (no country) needs the request's.
  const country = text(request.country) ?? text(unit.country)
  const registeredAt =
    request.registered_date !== undefined && request.registered_date > 0
      ? request.registered_date * 1000
      : data.registeredAt
  return {
    unitId: unit.id,
    appId: request.app_id ?? unit.app_id,
    age:
      request.year_of_birth === undefined
        ? undefined
        : targetAge(localYear(unit.timezone, now), request.year_of_birth),
    gender: text(request.sex) && normalizeTargetValue('gender', request.sex as string),
    language: language && normalizeTargetValue('language', language),
    carrier: text(request.carrier) && normalizeTargetValue('carrier', request.carrier as string),
    region: text(request.region) && normalizeTargetValue('region', request.region as string),
    country: country && normalizeTargetValue('country', country),
    os: request.device_os,
    sdk: request.sdk_version === 0 ? undefined : request.sdk_version,
    registeredDays:
      registeredAt === undefined ? undefined : Math.floor(Math.max(0, now - registeredAt) / DAY_MS),
    installedPackages: data.installed,
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

function parseIdSet(value: string | undefined): ReadonlySet<number> | undefined {
  const ids = [...(parseList(value) ?? [])].map(Number).filter(Number.isSafeInteger)
  return ids.length === 0 ? undefined : new Set(ids)
}

/** Wire ids the SDK holds, as local campaign ids (upstream ids are never local). */
function parseIdList(value: string | undefined): ReadonlySet<number> {
  const ids = new Set<number>()
  for (const wire of parseIdSet(value) ?? []) {
    const local = localCampaignId(wire)
    if (local) ids.add(local.id)
  }
  return ids
}

function upstreamQuery(request: AllocationRequest, unit: Unit, limit: number): UpstreamQuery {
  return {
    unit_id: unit.id,
    app_id: request.app_id ?? unit.app_id,
    device_id: request.device_id,
    ifa: request.ifa,
    country: request.country || unit.country,
    language: request.language,
    sex: request.sex,
    year_of_birth: request.year_of_birth,
    device_os: request.device_os,
    carrier: request.carrier,
    limit,
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
