import type { Campaign, ContentCategory, ContentChannel, Unit } from './catalog.js'
import { AllotError } from './errors.js'
import { isValidTimezone } from './schedule.js'
import { emptyTargeting, TARGETING_RANGES } from './targeting-fields.js'

type Stamped = 'id' | 'created_at' | 'updated_at'
export type CampaignDraft = Omit<Campaign, Stamped>
export type UnitDraft = Omit<Unit, Stamped>
export type CategoryDraft = Omit<ContentCategory, 'id'>
export type ChannelDraft = Omit<ContentChannel, 'id'>

const EMPTY_TARGETING = emptyTargeting()

/** The fields a new campaign needs; everything else has a default. */
export type CampaignInput = Partial<CampaignDraft> &
  Pick<CampaignDraft, 'name' | 'type' | 'start_date' | 'end_date'>

/** A complete campaign draft from the admin's input, with defaults for what was left out. */
export function campaignDraft(input: CampaignInput): CampaignDraft {
  const draft: CampaignDraft = {
    ...EMPTY_TARGETING,
    is_ad: input.type !== 'C',
    owner_id: null,
    provider_id: null,
    channel_id: null,
    categories: [],
    title: '',
    description: '',
    image: '',
    click_url: '',
    impression_urls: [],
    landing_type: 1,
    display_type: 'A',
    display_weight: 1,
    first_display_priority: 0,
    status: 'active',
    published_at: null,
    week_slot: [],
    ipu: null,
    dipu: null,
    tipu: null,
    budget_type: null,
    budget_daily: null,
    budget_total: null,
    budget_pacing: 'asap',
    unlock_reward: 0,
    landing_reward: 0,
    action_reward: 0,
    clean_link: '',
    clean_mode: 0,
    extra: {},
    revenue_type: null,
    ...input,
  }
  checkCampaign(draft)
  return normalizeCampaignUrls(draft)
}

/** The draft with its URLs in their stored form (call after checkCampaign accepted them). */
export function normalizeCampaignUrls(draft: CampaignDraft): CampaignDraft {
  return {
    ...draft,
    click_url: normalizeWebUrl(draft.click_url),
    clean_link: normalizeWebUrl(draft.clean_link),
    image: normalizeWebUrl(draft.image),
    impression_urls: draft.impression_urls.map(normalizeWebUrl),
  }
}

/** Rules that span fields (single fields are checked by the HTTP schema). */
export function checkCampaign(draft: CampaignDraft): void {
  if (draft.end_date <= draft.start_date) invalid('end_date must be after start_date')
  if (draft.is_ad === (draft.type === 'C')) {
    invalid(`type must be 'C' for contents (is_ad false) and 'I', 'J' or 'B' for ads (is_ad true)`)
  }
  for (const [min, max] of TARGETING_RANGES) {
    const prefix = min.slice(0, -'_min'.length)
    checkRange(prefix, draft[min], draft[max])
  }
  if (draft.week_slot.some((s) => !Number.isInteger(s) || s < 0 || s >= 168)) {
    invalid('week_slot entries must be integers from 0 (Monday 00h) to 167 (Sunday 23h)')
  }
  if ((draft.budget_daily !== null || draft.budget_total !== null) && draft.budget_type === null) {
    invalid('budget_type is required when budget_daily or budget_total is set')
  }
  if (!draft.is_ad && draft.revenue_type !== null)
    invalid('revenue_type is for ads only (contents have none)')
  for (const key of ['click_url', 'clean_link', 'image'] as const) checkWebUrl(key, draft[key])
  for (const [i, url] of draft.impression_urls.entries()) checkWebUrl(`impression_urls[${i}]`, url)
}

/**
 * Campaign URLs are sent to phones and redirected to: only absolute http(s) URLs (or nothing), stored
 * normalised (non-ASCII and spaces percent-encoded), never a `javascript:` or scheme-relative one.
 * `{ifa}` is a placeholder the click handler substitutes, so it is kept as typed.
 */
function checkWebUrl(field: string, value: string): void {
  if (value === '') return
  const parsed = URL.canParse(value.replaceAll('{ifa}', 'IFA_PLACEHOLDER')) ? new URL(value) : undefined
  if (
    !parsed ||
    (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ||
    !/^https?:\/\//i.test(value)
  )
    invalid(`${field} must be an absolute http(s) URL`)
  // A CR, LF or other control character would end up in a Location header.
  if ([...value].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f))
    invalid(`${field} must not contain control characters`)
}

/** A campaign URL as stored: the WHATWG-normalised form (percent-encoded), `{ifa}` placeholders kept. */
function normalizeWebUrl(value: string): string {
  if (value === '') return value
  return new URL(value.replaceAll('{ifa}', 'IFA_PLACEHOLDER')).href.replaceAll('IFA_PLACEHOLDER', '{ifa}')
}

function checkRange(name: string, min: number | null, max: number | null): void {
  if (min !== null && max !== null && min > max) invalid(`${name}_min must not exceed ${name}_max`)
}

/** The fields a new unit needs; everything else has a default. */
export type UnitInput = Partial<UnitDraft> & Pick<UnitDraft, 'app_id'>

/** A complete unit draft with every field the input leaves out at its default. */
export function unitDraft(input: UnitInput): UnitDraft {
  const draft: UnitDraft = {
    name: '',
    unit_type: 'lockscreen',
    platform: 'android',
    country: 'KR',
    timezone: 'Asia/Seoul',
    is_active: true,
    first_display_ratio: '9:1',
    page_display_ratio: '3:1',
    page_limit: 20,
    shuffle_option: 0,
    request_trigger: 600,
    request_period: 3600,
    base_reward: 2,
    base_init_period: 3600,
    postback_url: null,
    postback_hmac_key: null,
    postback_headers: {},
    filtered_providers: [],
    ad_sources: [],
    owner_id: null,
    hour_limit: 12,
    base_hour_limit: 1,
    ad_type: 'all',
    content_type: 'all',
    supports_cardview: false,
    postback_aes_key: null,
    postback_aes_iv: null,
    ...input,
  }
  checkUnit(draft)
  return draft
}

/** Rules a unit must satisfy beyond field types. */
export function checkUnit(draft: UnitDraft): void {
  if (!isValidTimezone(draft.timezone)) invalid(`timezone '${draft.timezone}' is not an IANA timezone`)
  for (const key of ['first_display_ratio', 'page_display_ratio'] as const) {
    if (!/^\d+:\d+$/.test(draft[key])) invalid(`${key} must look like '9:1'`)
  }
  if ((draft.postback_aes_key === null) !== (draft.postback_aes_iv === null))
    invalid('postback_aes_key and postback_aes_iv go together')
  if (draft.postback_aes_key !== null && ![16, 24, 32].includes(utf8Length(draft.postback_aes_key)))
    invalid('postback_aes_key must be 16, 24 or 32 bytes')
  if (draft.postback_aes_iv !== null && utf8Length(draft.postback_aes_iv) !== 16)
    invalid('postback_aes_iv must be 16 bytes')
  const names = new Set<string>()
  for (const [i, source] of draft.ad_sources.entries()) {
    if (!/^https?:\/\//.test(source.url)) invalid(`ad_sources[${i}].url must be an http(s) URL`)
    if (names.has(source.name)) invalid(`ad_sources[${i}].name '${source.name}' is used twice`)
    names.add(source.name)
  }
}

const utf8Length = (s: string) => new TextEncoder().encode(s).length

function invalid(message: string): never {
  throw new AllotError('InvalidField', message)
}
