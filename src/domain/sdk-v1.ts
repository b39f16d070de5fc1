/**
 * Rules of the BuzzScreen v1 wire contract that the SDKs in the field rely on (docs/architecture.md §8).
 * Pure functions: the HTTP layer and the services use them to read requests and build answers.
 */

/** Ads carry their campaign id plus this on the wire (contents stay below it). */
const AD_ID_OFFSET = 1_000_000_000
/** Upstream ad networks' ads are numbered from here on the wire; they are never local campaigns. */
export const UPSTREAM_ID_OFFSET = 2_000_000_000
/** Local campaign ids stay below the ad offset so a wire id always tells what it is. */
export const MAX_CAMPAIGN_ID = AD_ID_OFFSET - 1
/** v1's placeholder when an event names no campaign. */
export const PLACEHOLDER_CAMPAIGN_ID = 1

/** The id the SDK sees for a local campaign. */
export function wireCampaignId(campaignId: number, isAd: boolean): number {
  return isAd ? campaignId + AD_ID_OFFSET : campaignId
}

/** The local campaign behind a wire id, or undefined for an upstream ad's id. */
export function localCampaignId(wireId: number): { id: number; isAd: boolean } | undefined {
  if (wireId >= UPSTREAM_ID_OFFSET) return undefined
  return wireId >= AD_ID_OFFSET ? { id: wireId - AD_ID_OFFSET, isAd: true } : { id: wireId, isAd: false }
}

/** `1 < v < 100` is a two-digit year of the 1900s; 0 (or nothing) means unknown. */
export function normalizeYearOfBirth(value: number | undefined): number | undefined {
  if (value === undefined || value <= 0) return undefined
  return value > 1 && value < 100 ? 1900 + value : value
}

/** The legacy age rule: current year − year of birth − 1, never below 0. */
export function targetAge(currentYear: number, yearOfBirth: number): number {
  return Math.max(0, currentYear - yearOfBirth - 1)
}

/** SDK versions that change what the server answers. */
export const SDK_GATES = {
  /** Below this, no ads at all. */
  minForAds: 1501,
  /** Below this, the ad part of first_display_ratio is capped at 9. */
  minUncappedRatio: 1820,
  /** At or below this, ads carry no base reward. */
  maxWithoutAdBaseReward: 1240,
} as const

/** v1 withholds the base reward on ads for SDKs ≤ 1240 and in the US (`country`: the request's, else the unit's). */
export function adBaseWithheld(country: string, sdkVersion: number | undefined): boolean {
  return (
    country.toUpperCase() === 'US' ||
    (sdkVersion !== undefined && sdkVersion <= SDK_GATES.maxWithoutAdBaseReward)
  )
}

/** `settings.first_display_ratio`: the unit's `ad:content`, the ad part capped at 9 for old SDKs. */
export function firstDisplayRatio(unitRatio: string, sdkVersion: number): string {
  if (sdkVersion >= SDK_GATES.minUncappedRatio) return unitRatio
  const [ad = '9', content = '1'] = unitRatio.split(':')
  return `${Math.min(Number(ad), 9)}:${content}`
}

const REQUESTABLE_PAGE_RATIOS = new Set(['1:1', '1:2', '1:3'])

/** `settings.page_display_ratio`: the request's `settings_page_display_ratio` when it is one v1 allows. */
export function pageDisplayRatio(unitRatio: string, requested: string | undefined): string {
  return requested !== undefined && REQUESTABLE_PAGE_RATIOS.has(requested) ? requested : unitRatio
}

/** Stored landing types (admin integers) and their v1 names. */
export const LANDING_TYPES = { browser: 1, overlay: 2, cardview: 3, youtube: 10 } as const

/** `landing_type` on the wire: overlay for YouTube, cardview only where the unit's app supports it. */
export function landingTypeName(
  code: number,
  cardviewSupported: boolean,
): 'browser' | 'overlay' | 'cardview' {
  if (code === LANDING_TYPES.overlay || code === LANDING_TYPES.youtube) return 'overlay'
  if (code === LANDING_TYPES.cardview && cardviewSupported) return 'cardview'
  return 'browser'
}

const ALL_HOURS = Array.from({ length: 24 }, (_, h) => h).join(',')
const LAST_WEEK_SLOT = 167

/**
 * `slot`: every hour when the campaign has no week slot; else the 12 week slots from the current one
 * (weekday × 24 + hour in the unit's timezone, Monday 00h = 0) that the campaign allows, each as its hour,
 * in that order. Like v1 it does not wrap past Sunday 23h, so late on Sunday the list is shorter.
 */
export function slotHours(allowed: Uint8Array | undefined, currentSlot: number): string {
  if (allowed === undefined) return ALL_HOURS
  const hours: number[] = []
  const last = Math.min(currentSlot + 11, LAST_WEEK_SLOT)
  for (let s = currentSlot; s <= last; s++) if (allowed[s] === 1) hours.push(s % 24)
  return hours.join(',')
}

/** The values an SDK hashes into `check` (docs/architecture.md §W7.2), in order; integers already parsed. */
export type CheckFields = {
  device_id: number
  ifa: string
  unit_device_token: string
  app_id: number
  campaign_id: number
  campaign_type: string
  campaign_name: string
  campaign_owner_id: string
  campaign_is_media: string
  slot: number
  reward: number
  base_reward: number
}

/**
 * The string whose MD5 is the v1 `check`: integers in decimal, strings as sent; app_id and unit_device_token
 * given apart, as a server tries several of each (no copy of the fields per try).
 */
export function checkSource(
  f: Omit<CheckFields, 'app_id' | 'unit_device_token'>,
  appId: number,
  token: string,
): string {
  return [
    'buz',
    f.device_id,
    f.ifa,
    token,
    appId,
    f.campaign_id,
    f.campaign_type,
    f.campaign_name,
    f.campaign_owner_id,
    f.campaign_is_media,
    f.slot,
    f.reward,
    f.base_reward,
  ].join(':')
}

/**
 * A query string as Go's `url.Values.Encode` writes it: keys sorted, values escaped like
 * `url.QueryEscape` (unreserved `A-Z a-z 0-9 - _ . ~` kept, space as `+`, UTF-8 bytes as `%XX`), so the
 * SDK's `__placeholder__` tokens stay literal and a Korean landing URL survives the round trip.
 */
export function goQuery(params: Readonly<Record<string, string>>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${queryEscape(k)}=${queryEscape(params[k] as string)}`)
    .join('&')
}

/** A value escaped as Go's `url.QueryEscape` does. */
export function queryEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
}

/** The literals the SDK substitutes in a click URL before opening it (docs/architecture.md §W5.1). */
export const CLICK_PLACEHOLDERS = {
  reward: '__reward__',
  base_reward: '__base_reward__',
  slot: '__slot__',
  campaign_payload: '__campaign_payload__',
  check: '__check__',
  client_unit_device_token: '__unit_device_token__',
  place: '__place__',
  position: '__position__',
  session_id: '__session_id__',
  use_clean_mode: '__use_clean_mode__',
} as const

/** Longest click-redirect URL an SDK can open; longer items are dropped from an allocation. */
export const MAX_CLICK_URL_LENGTH = 2048

/** The settings keys v1 always sends with fixed values (docs/architecture.md §W3.1). */
export const FIXED_SETTINGS = {
  external_base_reward: 0,
  external_campaign_id: 1,
  external_impression_cap: 500,
  external_add_call_limit: 500,
} as const

/** How often the SDK should upload its installed packages (seconds). */
export const INSTALLED_APPS_UPDATE_PERIOD = 86_400

/** Payloads stay redeemable this long after their campaign ends (v1: `ended_at + 7 days`). */
export const PAYLOAD_GRACE_MS = 7 * 86_400_000
