import type { Campaign, Unit } from '../../domain/catalog.js'
import {
  CLICK_PLACEHOLDERS,
  FIXED_SETTINGS,
  firstDisplayRatio,
  goQuery,
  landingTypeName,
  MAX_CLICK_URL_LENGTH,
  PAYLOAD_GRACE_MS,
  pageDisplayRatio,
  SDK_GATES,
  slotHours,
  UPSTREAM_ID_OFFSET,
  wireCampaignId,
} from '../../domain/sdk-v1.js'
import type { UpstreamAd } from '../../services/ad-network.service.js'
import type { Allocation, AllocationRequest } from '../../services/allocation.service.js'
import type { CatalogEntry } from '../../services/catalog.service.js'
import type { PayloadSigner } from '../../services/payload-signer.js'
import type {
  AllocationResponseDto,
  ContentAllocationResponseDto,
  ItemDto,
  SettingsDto,
} from '../dto/allocation.dto.js'

type Deps = { signer: PayloadSigner; publicBaseUrl: string }

export type AllocationPresenter = ReturnType<typeof createAllocationPresenter>

const ALL_HOURS = slotHours(undefined, 0)
/** Contents are shown at v1's fixed priority; their weight is display_weight × 10,000, capped. */
const CONTENT_PRIORITY = 10
const WEIGHT_SCALE = 10_000
const MAX_WEIGHT = 10_000_000
const UPSTREAM_TYPE = { cpm: 'I', cpc: 'J', cpa: 'B' } as const
const NO_EXTRA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>

/**
 * Shapes an allocation into the v1 answer (SDK-CONTRACT §3–§6): every key with its v1 JSON type, the
 * click-redirect and impression URLs with the SDK's placeholders, and a payload per item that binds
 * device, unit, campaign and expiry under PAYLOAD_SECRET.
 */
export function createAllocationPresenter({ signer, publicBaseUrl }: Deps) {
  const clickBase = `${publicBaseUrl}/api/click_redirect/?`
  const impressionBase = `${publicBaseUrl}/api/content_impression/?`

  function items(a: Allocation, entries: readonly CatalogEntry[], out: ItemDto[]): void {
    for (const entry of entries) {
      const item = localItem(a, entry)
      // v1 drops what an SDK cannot open: long contents always, long ads on Android ≤ 4.4W (API 20).
      const tooLong = item.click_url.length > MAX_CLICK_URL_LENGTH
      if (tooLong && (!item.is_ad || (a.request.device_os ?? 0) <= 20)) continue
      out.push(item)
    }
  }

  function localItem(a: Allocation, { campaign: c, slots }: CatalogEntry): ItemDto {
    const { unit, request } = a
    const id = wireCampaignId(c.id, c.is_ad)
    const isMedia = c.owner_id !== null && c.owner_id === unit.owner_id
    const payload = signer.sign({
      d: request.device_id,
      u: unit.id,
      c: c.id,
      ...(request.unit_device_token ? { t: request.unit_device_token } : {}),
      exp: Math.floor((c.end_date + PAYLOAD_GRACE_MS) / 1000),
    })
    const channel = c.channel_id === null ? undefined : a.channels.get(c.channel_id)
    const impression = `${impressionBase}${goQuery({
      data: payload,
      place: CLICK_PLACEHOLDERS.place,
      position: CLICK_PLACEHOLDERS.position,
      session_id: CLICK_PLACEHOLDERS.session_id,
    })}`
    return {
      action_reward: c.is_ad ? c.action_reward : 0,
      adchoice_url: '',
      base_reward: baseReward(unit, request, c.is_ad),
      category: c.is_ad ? '' : c.categories.join(','),
      ...(c.is_ad || c.channel_id === null ? {} : { channel_id: c.channel_id }),
      channel: channel ? { id: channel.id, logo: channel.icon_url, name: channel.name } : null,
      clean_mode: c.clean_mode,
      click_url: clickUrl(a, c, id, isMedia),
      display_type: c.display_type,
      ended_at: Math.floor(c.end_date / 1000),
      extra: c.extra,
      first_display_priority: c.is_ad ? c.first_display_priority : CONTENT_PRIORITY,
      first_display_weight: Math.min(c.display_weight * WEIGHT_SCALE, MAX_WEIGHT),
      id,
      image: c.image,
      impression_urls: [impression, ...c.impression_urls],
      ipu: c.ipu || 9999,
      is_ad: c.is_ad,
      is_media: isMedia,
      landing_reward: c.landing_reward,
      landing_type: landingTypeName(c.landing_type, unit.supports_cardview),
      meta: null,
      name: c.name,
      owner_id: c.owner_id ?? 0,
      payload,
      remove_after_impression: false,
      slot: slotHours(slots, a.currentSlot),
      started_at: Math.floor(c.start_date / 1000),
      source_url: c.is_ad ? '' : c.click_url,
      support_webp: true,
      target_app: c.target_app.join(','),
      timezone: unit.timezone,
      tipu: c.tipu ?? 0,
      type: c.type,
      unit_price: 0,
      // v1 contents never carry an unlock reward (the unlock pays the base part only).
      unlock_reward: c.is_ad ? c.unlock_reward : 0,
      creative: null,
      ad_report_data: '',
    }
  }

  /** `<PUBLIC_BASE_URL>/api/click_redirect/?…` as v1 builds it (SDK-CONTRACT §5.1); '' without a landing. */
  function clickUrl(a: Allocation, c: Campaign, id: number, isMedia: boolean): string {
    if (c.click_url === '') return ''
    const { unit, request } = a
    return `${clickBase}${goQuery({
      app_id: String(request.app_id ?? unit.app_id),
      unit_id: String(unit.id),
      device_id: String(request.device_id),
      ifa: request.ifa,
      unit_device_token: request.unit_device_token,
      campaign_id: String(id),
      campaign_type: c.type,
      campaign_name: c.name,
      campaign_owner_id: c.owner_id ? String(c.owner_id) : '',
      campaign_is_media: isMedia ? '1' : '0',
      redirect_url: c.click_url.replaceAll('{ifa}', request.ifa),
      redirect_url_clean: c.clean_link,
      ...CLICK_PLACEHOLDERS,
    })}`
  }

  /** An upstream network's ad: display-only (no rewards, its own click and impression URLs). */
  function upstreamItem(a: Allocation, ad: UpstreamAd, index: number): ItemDto {
    const id = UPSTREAM_ID_OFFSET + index + 1
    const endsAt = a.now + 3_600_000
    return {
      action_reward: 0,
      adchoice_url: '',
      base_reward: 0,
      category: '',
      channel: null,
      clean_mode: 0,
      click_url: ad.click_url,
      display_type: 'A',
      ended_at: Math.floor(endsAt / 1000),
      extra: NO_EXTRA,
      first_display_priority: 0,
      first_display_weight: WEIGHT_SCALE,
      id,
      image: ad.image,
      ...(ad.impression_urls.length > 0 ? { impression_urls: ad.impression_urls } : {}),
      ipu: 9999,
      is_ad: true,
      is_media: false,
      landing_reward: 0,
      landing_type: 'browser',
      meta: null,
      name: ad.title || `${ad.source}:${ad.external_id}`,
      owner_id: 0,
      payload: signer.sign({ d: a.request.device_id, u: a.unit.id, c: id, exp: Math.floor(endsAt / 1000) }),
      remove_after_impression: false,
      slot: ALL_HOURS,
      started_at: Math.floor(a.now / 1000),
      source_url: '',
      support_webp: true,
      target_app: '',
      timezone: a.unit.timezone,
      tipu: 0,
      type: UPSTREAM_TYPE[ad.revenue_type],
      unit_price: 0,
      unlock_reward: 0,
      creative: null,
      ad_report_data: '',
    }
  }

  function campaigns(a: Allocation): ItemDto[] {
    const out: ItemDto[] = []
    items(a, a.ads, out)
    a.upstream.forEach((ad, i) => {
      out.push(upstreamItem(a, ad, i))
    })
    if (a.contents) items(a, a.contents, out)
    return out
  }

  return {
    /** The `POST /api/allocation/` answer. */
    allocation(a: Allocation): AllocationResponseDto {
      return {
        campaigns: campaigns(a),
        msg: 'ok',
        code: 200,
        native_ads: [],
        settings: settings(a.unit, a.request),
      }
    },
    /** The `POST /api/content_allocation/` answer: `campaigns` is null when the unit takes no contents. */
    contentAllocation(a: Allocation): ContentAllocationResponseDto {
      const contents: ItemDto[] = []
      if (a.contents) items(a, a.contents, contents)
      return { campaigns: a.contents ? contents : null, msg: 'ok', code: 200 }
    },
  }
}

/** The unit's base reward on an item; ads carry none for SDKs ≤ 1240 and in the US (v1 rule). */
function baseReward(unit: Unit, request: AllocationRequest, isAd: boolean): number {
  if (!isAd) return unit.base_reward
  const country = (request.country || unit.country).toUpperCase()
  return request.sdk_version <= SDK_GATES.maxWithoutAdBaseReward || country === 'US' ? 0 : unit.base_reward
}

function settings(unit: Unit, request: AllocationRequest): SettingsDto {
  return {
    first_display_ratio: firstDisplayRatio(unit.first_display_ratio, request.sdk_version),
    page_display_ratio: pageDisplayRatio(unit.page_display_ratio, request.settings_page_display_ratio),
    page_limit: unit.page_limit,
    base_init_period: unit.base_init_period,
    request_trigger: unit.request_trigger,
    request_period: unit.request_period,
    hour_limit: unit.hour_limit,
    base_hour_limit: unit.base_hour_limit,
    ...FIXED_SETTINGS,
    shuffle_option: unit.shuffle_option,
    ad_filtering_words: null,
    web_ua: null,
  }
}
