import { type ContentChannel, GLOB, type ServedCampaign, type Unit } from '../domain/catalog.js'
import { type CatalogEntry, type CatalogSnapshot, catalogEntry } from '../domain/catalog-snapshot.js'
import { contentFilter } from '../domain/content-filter.js'
import { type ActivitySummary, type Delivery, summarizeActivity } from '../domain/delivery.js'
import type { ActivityItem, DeviceProfile } from '../domain/device.js'
import { type EligibilityContext, firstExclusion, servable } from '../domain/eligibility.js'
import { AllotError } from '../domain/errors.js'
import { type Exclusion, ruleDetail } from '../domain/explanation.js'
import {
  type ContentSignals,
  categoryAffinity,
  contentScore,
  contentScoreBound,
  NO_AFFINITY_SLACK,
  rankContents,
  topScore,
} from '../domain/ranking.js'
import { localYear, upcomingSlots } from '../domain/schedule.js'
import { localCampaignId, SDK_GATES } from '../domain/sdk-v1.js'
import type { DeviceContext } from '../domain/targeting.js'
import { commaSet, type DeviceRequest, deviceContext } from '../domain/targeting-fields.js'
import { counterKeys, utcDay } from '../lib/counter-keys.js'
import { createContentWalker, pickAds } from '../lib/pool-scan.js'
import type { UpstreamAd, UpstreamQuery } from './ports/allocation.ports.js'
import type { CampaignLookup } from './ports/catalog.ports.js'

/**
 * An allocation request as the v1 SDK sends it (docs/architecture.md §W2), already parsed: integers are
 * numbers, a two-digit year of birth is a four-digit one, and optional fields the SDK left out are undefined.
 */
export type AllocationRequest = DeviceRequest & {
  /** The unit; when absent or unknown, the app's lockscreen unit is used. */
  unit_id?: number | undefined
  device_id: number
  ifa: string
  unit_device_token: string
  sdk_version: number
  timezone?: string | undefined
  device_name?: string | undefined
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
  /** What the request proved about the device (normalised), as the rules saw it. */
  device: DeviceContext
}

/** One campaign in an explanation: served, or the first thing that kept it out. */
export type CampaignVerdict = { campaign: ServedCampaign; served: boolean; exclusion: Exclusion | undefined }

/** What the allocation of a request would decide, campaign by campaign (the decision explainer). */
export type Explanation = {
  unit: Unit
  now: number
  currentSlot: number
  device: DeviceContext
  /** True when the device was never allocated on this unit: allocation would register it now. */
  firstAllocation: boolean
  /** False when the device's activity could not be read (caps then keep capped campaigns out). */
  activityKnown: boolean
  verdicts: CampaignVerdict[]
}

export type AllocationService = {
  allocate(request: AllocationRequest): Promise<Allocation>
  allocateContents(request: AllocationRequest): Promise<Allocation>
  /**
   * What `allocate(request)` would decide for every campaign of the unit (or only `campaignId`), running the
   * same steps; it records nothing (no registration, no activity, no counters) and asks no upstream network.
   */
  explain(request: AllocationRequest, campaignId?: number): Promise<Explanation>
}

/** What allocation reads about a device beyond its request. */
export type DeviceView = {
  profile: DeviceProfile | null
  registrations: ReadonlyMap<number, number>
  activity: readonly ActivityItem[]
}

/**
 * Per-device data, cached (see device-cache.service.ts); `load` records the unit registration if new,
 * `inspect` reads the stores and records nothing (the explainer).
 */
export type DeviceDataSource = {
  load(deviceId: number, unitId: number, now: number): Promise<DeviceView>
  /** The device's data when it is at hand in this process (no I/O); undefined otherwise. */
  peek?(deviceId: number, unitId: number): DeviceView | undefined
  inspect(deviceId: number, now: number): Promise<DeviceView>
}

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
  /** Campaigns outside the snapshot (paused, ended), for an explanation that names one. */
  campaigns?: CampaignLookup | undefined
  upstream?: UpstreamAds | undefined
  installed?: InstalledPackages | undefined
  clock: () => number
  random: () => number
  devices: DeviceDataSource
  counters: CounterValues
  /** Whether this process found a campaign's budget pool empty (it then sits out allocations meanwhile). */
  budgetExhausted?: ((c: ServedCampaign) => boolean) | undefined
  /** Each per-device read that takes longer is dropped from this allocation (ms). */
  deadlineMs: number
  onDeadline?: (what: string) => void
}

const MIN_POOL = 25

/** What one allocation knows about the device beyond its request; undefined = unknown in time. */
type DeviceData = {
  registeredAt: number | undefined
  profile: DeviceProfile | undefined
  activity: ActivitySummary | undefined
  installed: ReadonlySet<string> | undefined
}

/** What the service holds for its life: its dependencies and the content walker (it caches per bucket). */
type Service = Deps & { contentCandidates: ReturnType<typeof createContentWalker<CatalogEntry>> }

/** Builds the ranked pool of ads and contents for one device on one unit (docs/architecture.md §4). */
export function createAllocationService(deps: Deps): AllocationService {
  const walker = createContentWalker((e: CatalogEntry, now: number) =>
    contentScoreBound(e.campaign, deps.counters.totals(e.campaign.id), now),
  )
  const svc: Service = { ...deps, contentCandidates: walker }
  return {
    allocate: (request) => allocate(svc, request, true),
    allocateContents: (request) => allocate(svc, request, false),
    explain: (request, campaignId) => explain(svc, request, campaignId),
  }
}

/** The story of one allocation: unit, device, the decision, the upstream ads after the local ones. */
async function allocate(svc: Service, request: AllocationRequest, withAds: boolean): Promise<Allocation> {
  const snapshot = svc.catalog.current()
  const unit = resolveUnit(snapshot, request)
  const now = svc.clock()
  const adGap = withAds ? adSupplyGap(unit, request) : 'not_asked'
  // Upstream networks run while the device data loads; both are bounded by their deadlines.
  const upstream = adGap ? undefined : askUpstream(svc.upstream, unit, request, poolLimit(unit))
  const data = await loadDeviceData(svc, request, unit, now, snapshot.usesAppTargeting)
  const { rules, ads, contents } = decide(svc, { snapshot, unit, request, now, data, adGap })
  // Upstream ads follow the local ones (which carry rewards), best eCPM first, within the pool size.
  const external = upstream ? (await upstream).slice(0, Math.max(0, poolLimit(unit) - ads.length)) : []
  const { currentSlot, device } = rules
  return {
    unit,
    request,
    now,
    currentSlot,
    ads,
    upstream: external,
    contents,
    channels: snapshot.channelsById,
    device,
  }
}

/** The story of an explanation: allocate()'s decision on side-effect-free device data, then a verdict each. */
async function explain(svc: Service, request: AllocationRequest, campaignId?: number): Promise<Explanation> {
  const snapshot = svc.catalog.current()
  const unit = resolveUnit(snapshot, request)
  const now = svc.clock()
  const adGap = adSupplyGap(unit, request)
  const { data, firstAllocation } = await inspectDeviceData(
    svc,
    request,
    unit,
    now,
    snapshot.usesAppTargeting,
  )
  const decision = decide(svc, { snapshot, unit, request, now, data, adGap })
  const entries =
    campaignId === undefined
      ? campaignsOf(snapshot, unit)
      : [await campaignEntry(svc.campaigns, snapshot, campaignId)]
  const judge = verdicts(svc.counters, {
    ...decision,
    snapshot,
    unit,
    data,
    adGap,
    contents: decision.contents ?? [],
  })
  return {
    unit,
    now,
    currentSlot: decision.rules.currentSlot,
    device: decision.rules.device,
    firstAllocation,
    activityKnown: data.activity !== undefined,
    verdicts: entries.map(judge),
  }
}

type DecisionInput = {
  snapshot: CatalogSnapshot
  unit: Unit
  request: AllocationRequest
  now: number
  data: DeviceData
  adGap: SupplyGap | 'not_asked' | undefined
}

/**
 * The one decision allocation and the explainer share: the rules for this request and device, then the
 * ranked ads (none when `adGap` says why) and contents (null when the unit takes none).
 */
function decide(svc: Service, { snapshot, unit, request, now, data, adGap }: DecisionInput) {
  const limit = poolLimit(unit)
  const rules = eligibilityContext(svc, request, unit, data, now)
  const ads = adGap ? [] : rankedAds(snapshot, unit, rules, svc.random, limit)
  const contents =
    unit.content_type === 'none' ? null : rankedContents(svc, snapshot, unit, rules, data, limit)
  return { rules, ads, contents }
}

type Pool = {
  snapshot: CatalogSnapshot
  unit: Unit
  rules: EligibilityContext
  data: DeviceData
  adGap: SupplyGap | undefined
  ads: readonly CatalogEntry[]
  contents: readonly CatalogEntry[]
}

/**
 * A campaign's verdict, in the order allocation decides: the unit's supply, the eligibility rules (the
 * same functions allocation scans with), then the ranking cut-off.
 */
function verdicts(counters: CounterValues, { snapshot, unit, rules, data, adGap, ads, contents }: Pool) {
  const served = new Set([...ads, ...contents].map((e) => e.campaign.id))
  const loaded = new Set([...snapshot.ads, ...snapshot.contents].map((e) => e.campaign.id))
  const signals = contentSignals(counters, data)
  const score = (c: ServedCampaign) =>
    c.is_ad ? c.first_display_priority : contentScore(c, signals(c), rules.now)
  const cutoff = (pool: readonly CatalogEntry[]) => Math.min(...pool.map((e) => score(e.campaign)))
  const exclusionOf = (e: CatalogEntry): Exclusion => {
    const c = e.campaign
    const gap = c.is_ad ? adGap : unit.content_type === 'none' ? 'content_type_none' : undefined
    if (gap) return { rule: 'supply', reason: gap }
    const rule = firstExclusion(rules, e)
    if (rule) return ruleDetail(rule, rules, e)
    if (!loaded.has(c.id)) return { rule: 'catalog' }
    const pool = c.is_ad ? ads : contents
    return { rule: 'ranked_out', score: score(c), cutoff: cutoff(pool), poolSize: pool.length }
  }
  return (e: CatalogEntry): CampaignVerdict =>
    served.has(e.campaign.id)
      ? { campaign: e.campaign, served: true, exclusion: undefined }
      : { campaign: e.campaign, served: false, exclusion: exclusionOf(e) }
}

/** Every campaign that may run on the unit (its target_unit allows it), ads first. */
function campaignsOf(snapshot: CatalogSnapshot, unit: Unit): CatalogEntry[] {
  const id = String(unit.id)
  const onUnit = (e: CatalogEntry) => {
    const units = e.campaign.target_unit
    return units.length === 0 || units.includes(GLOB) || units.some((u) => u.trim() === id)
  }
  return [...snapshot.ads, ...snapshot.contents].filter(onUnit)
}

/** One campaign: the snapshot's entry, else compiled from the store (paused, ended). */
async function campaignEntry(
  campaigns: Deps['campaigns'],
  snapshot: CatalogSnapshot,
  id: number,
): Promise<CatalogEntry> {
  const known =
    snapshot.ads.find((e) => e.campaign.id === id) ?? snapshot.contents.find((e) => e.campaign.id === id)
  if (known) return known
  const stored = await campaigns?.get(id)
  if (!stored) throw new AllotError('ResourceNotFound', `campaign_id ${id} does not exist`)
  return catalogEntry(stored)
}

function askUpstream(
  upstream: UpstreamAds | undefined,
  unit: Unit,
  request: AllocationRequest,
  limit: number,
) {
  if (unit.ad_sources.length === 0 || !upstream) return undefined
  return upstream.fetchAds(unit, upstreamQuery(request, unit, limit))
}

/** Everything the eligibility rules read (src/domain/eligibility.ts), for this request. */
function eligibilityContext(
  { counters, budgetExhausted }: Pick<Deps, 'counters' | 'budgetExhausted'>,
  request: AllocationRequest,
  unit: Unit,
  data: DeviceData,
  now: number,
): EligibilityContext {
  const day = utcDay(now)
  return {
    now,
    currentSlot: upcomingSlots(unit.timezone, now)[0]?.slot ?? 0,
    excluded: parseIdList(request.excluded),
    filteredProviders: new Set(unit.filtered_providers),
    contentFilter: contentFilter({
      categories: commaSet(request.categories),
      excludedCategories: commaSet(request.filter_categories),
      excludedChannels: parseIdSet(request.filter_channel_ids),
    }),
    activity: data.activity,
    device: describeDevice(request, unit, now, data),
    delivery: (c) =>
      budgetExhausted?.(c)
        ? { total: c.budget_total ?? 0, today: c.budget_daily ?? 0 }
        : deliveryOf(counters, c, day),
  }
}

function rankedAds(
  snapshot: CatalogSnapshot,
  unit: Unit,
  rules: EligibilityContext,
  random: () => number,
  limit: number,
) {
  const buckets = snapshot.adIndex.buckets(unit.id, rules.device.country)
  return pickAds(buckets, servable(rules), random, limit)
}

function rankedContents(
  { contentCandidates, counters }: Pick<Service, 'contentCandidates' | 'counters'>,
  snapshot: CatalogSnapshot,
  unit: Unit,
  rules: EligibilityContext,
  data: DeviceData,
  limit: number,
) {
  const buckets = snapshot.contentIndex.buckets(unit.id, rules.device.country)
  const signals = contentSignals(counters, data)
  const slack = topScore(data.profile?.category_scores ?? {}) > 0 ? 0 : NO_AFFINITY_SLACK
  const score = (e: CatalogEntry) => contentScore(e.campaign, signals(e.campaign), rules.now)
  const candidates = contentCandidates(buckets, servable(rules), score, slack, rules.now, limit)
  return rankContents(candidates, signals, rules.now, limit)
}

/**
 * The device's cached data (and, when some campaign targets installed apps, its installed packages)
 * under the deadline, read in parallel; late or failed means unknown for this allocation.
 */
async function loadDeviceData(
  svc: Service,
  request: AllocationRequest,
  unit: Unit,
  now: number,
  needsPackages: boolean,
): Promise<DeviceData> {
  const appId = request.app_id ?? unit.app_id
  const packages = needsPackages && svc.installed !== undefined && request.ifa !== ''
  // A warm device costs no I/O and no timer.
  const warm = svc.devices.peek?.(request.device_id, unit.id)
  if (warm && !packages) return deviceData(warm, unit, now, undefined)
  const [view, installed] = await Promise.all([
    warm ?? withinDeadline(svc, 'device data', svc.devices.load(request.device_id, unit.id, now)),
    packages ? withinDeadline(svc, 'installed apps', svc.installed?.packages(appId, request.ifa)) : undefined,
  ])
  return deviceData(view, unit, now, installed)
}

/**
 * The device's data as allocation would see it, read from the stores without recording anything: a device
 * never allocated on the unit gets the registration allocation would record (now).
 */
async function inspectDeviceData(
  { devices, installed: apps }: Pick<Deps, 'devices' | 'installed'>,
  request: AllocationRequest,
  unit: Unit,
  now: number,
  needsPackages: boolean,
) {
  const [view, installed] = await Promise.all([
    devices.inspect(request.device_id, now),
    needsPackages && apps && request.ifa !== ''
      ? apps.packages(request.app_id ?? unit.app_id, request.ifa)
      : undefined,
  ])
  const firstAllocation = view.registrations.get(unit.id) === undefined
  const registrations = firstAllocation
    ? new Map([...view.registrations, [unit.id, now]])
    : view.registrations
  return { data: deviceData({ ...view, registrations }, unit, now, installed), firstAllocation }
}

function withinDeadline<T>(
  { deadlineMs, onDeadline }: Pick<Deps, 'deadlineMs' | 'onDeadline'>,
  what: string,
  work: Promise<T> | undefined,
): Promise<T | undefined> {
  if (work === undefined) return Promise.resolve(undefined)
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      onDeadline?.(what)
      resolve(undefined)
    }, deadlineMs)
  })
  const settled = work.then(
    (value) => value,
    () => {
      onDeadline?.(what)
      return undefined
    },
  )
  return Promise.race([settled, late]).finally(() => clearTimeout(timer))
}

/** What a budgeted campaign delivered, in its budget's unit (impressions or clicks). */
function deliveryOf(counters: CounterValues, c: ServedCampaign, day: string): Delivery {
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

function contentSignals(counters: CounterValues, data: DeviceData): (c: ServedCampaign) => ContentSignals {
  const scores = data.profile?.category_scores ?? {}
  const top = topScore(scores)
  const seen = data.activity?.seen
  return (c) => {
    // Written out, not spread: a spread followed by properties is slow on Node 20 (event.presenter's claimOf).
    const { impressions, clicks } = counters.totals(c.id)
    return {
      impressions,
      clicks,
      affinity: categoryAffinity(c.categories, scores, top),
      seen: seen?.has(c.id) ?? false,
    }
  }
}

function deviceData(
  view: DeviceView | undefined,
  unit: Unit,
  now: number,
  installed: ReadonlySet<string> | undefined,
): DeviceData {
  return {
    registeredAt: view?.registrations.get(unit.id),
    profile: view?.profile ?? undefined,
    activity: view && summarizeActivity(view.activity, now),
    installed,
  }
}

/** How many ads (and as many contents) a pool holds at most. */
function poolLimit(unit: Unit): number {
  return Math.max(unit.page_limit, MIN_POOL)
}

type SupplyGap = 'sdk_version' | 'ad_type_none'

/** Why an allocation takes no ads at all: the unit takes none, or the SDK is too old for ads. */
function adSupplyGap(unit: Unit, request: AllocationRequest): SupplyGap | undefined {
  if (unit.ad_type === 'none') return 'ad_type_none'
  return request.sdk_version < SDK_GATES.minForAds ? 'sdk_version' : undefined
}

/**
 * The unit by `unit_id`; when it is absent or unknown, the lockscreen unit of `app_id` (docs/architecture.md
 * §W2).
 */
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

/** Turns the request's raw fields into normalised device attributes; what is absent stays undefined. */
function describeDevice(
  request: AllocationRequest,
  unit: Unit,
  now: number,
  data: DeviceData,
): DeviceContext {
  // Each field's value comes from the targeting table (src/domain/targeting-fields.ts).
  const { registeredAt, installed } = data
  return deviceContext({
    request,
    unit,
    now,
    localYear: () => localYear(unit.timezone, now),
    registeredAt,
    installed,
  })
}

function parseIdSet(value: string | undefined): ReadonlySet<number> | undefined {
  const ids = [...(commaSet(value) ?? [])].map(Number).filter(Number.isSafeInteger)
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
