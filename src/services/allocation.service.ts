import type { Campaign, Unit } from '../domain/catalog.js'
import { AllotError } from '../domain/errors.js'
import { isLive, localTime, type UpcomingSlot, upcomingSlots } from '../domain/schedule.js'
import { type DeviceContext, normalizeTargetValue } from '../domain/targeting.js'
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
  allocate(request: AllocationRequest): AllocationResult
  allocateContents(request: AllocationRequest): AllocationResult
}

type Deps = { catalog: { current(): CatalogSnapshot }; signer: PayloadSigner; clock: () => number }

const PAYLOAD_GRACE_MS = 7 * 24 * 3_600_000
const MIN_POOL = 25

/** Builds the ranked pool of ads and contents for one device on one unit (DESIGN §4). */
export function createAllocationService({ catalog, signer, clock }: Deps): AllocationService {
  function run(request: AllocationRequest, withAds: boolean): AllocationResult {
    const snapshot = catalog.current()
    const unit = resolveUnit(snapshot, request.unit_id)
    const now = clock()
    const device = describeDevice(request, unit, now)
    const slots = upcomingSlots(unit.timezone, now)
    const excluded = parseIdList(request.excluded)
    const limit = Math.max(unit.page_limit, MIN_POOL)

    const eligible = (entry: CatalogEntry) =>
      isLive(entry.campaign, now) &&
      inCurrentSlot(entry.campaign, slots) &&
      !excluded.has(entry.campaign.id) &&
      entry.matches(device)

    const ads = withAds ? rankAds(snapshot.ads.filter(eligible)).slice(0, limit) : []
    const contents = rankContents(snapshot.contents.filter(eligible)).slice(0, limit)
    const shape = (c: Campaign) => shapeItem(c, unit, request, slots, signer)
    return { campaigns: [...ads.map(shape), ...contents.map(shape)], settings: settingsOf(unit) }
  }

  return {
    allocate: (request) => run(request, true),
    allocateContents: (request) => run(request, false),
  }
}

function resolveUnit(snapshot: CatalogSnapshot, unitId: number): Unit {
  const unit = snapshot.units.get(unitId)
  if (!unit) throw new AllotError('UnitNotFound', `unit_id ${unitId} does not exist`)
  if (!unit.is_active) throw new AllotError('UnitInactive', `unit_id ${unitId} is not active`)
  return unit
}

/** Turns the request's raw fields into normalised device attributes; what is absent stays undefined. */
function describeDevice(request: AllocationRequest, unit: Unit, now: number): DeviceContext {
  const text = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v)
  const year = localTime(unit.timezone, now).year
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
    registeredDays: undefined,
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

function inCurrentSlot(campaign: Campaign, slots: readonly UpcomingSlot[]): boolean {
  const current = slots[0]
  return (
    campaign.week_slot.length === 0 || (current !== undefined && campaign.week_slot.includes(current.slot))
  )
}

/** Ads: higher first_display_priority first, then heavier display_weight, then lower id for stability. */
function rankAds(entries: CatalogEntry[]): Campaign[] {
  return entries
    .map((e) => e.campaign)
    .sort(
      (a, b) =>
        b.first_display_priority - a.first_display_priority ||
        b.display_weight - a.display_weight ||
        a.id - b.id,
    )
}

/** Contents: freshest first (published_at, else start_date). */
function rankContents(entries: CatalogEntry[]): Campaign[] {
  const fresh = (c: Campaign) => c.published_at ?? c.start_date
  return entries.map((e) => e.campaign).sort((a, b) => fresh(b) - fresh(a) || a.id - b.id)
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
