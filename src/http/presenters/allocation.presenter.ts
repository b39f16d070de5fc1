import type { Unit } from '../../domain/catalog.js'
import type { CatalogEntry } from '../../domain/catalog-snapshot.js'
import type { PayloadClaims, PayloadSigner } from '../../domain/payload-signer.js'
import {
  adBaseWithheld,
  FIXED_SETTINGS,
  firstDisplayRatio,
  MAX_CLICK_URL_LENGTH,
  normalizeYearOfBirth,
  pageDisplayRatio,
  queryEscape,
  slotHours,
  UPSTREAM_ID_OFFSET,
} from '../../domain/sdk-v1.js'
import type { Allocation, AllocationRequest } from '../../services/allocation.service.js'
import type { UpstreamAd } from '../../services/ports/allocation.ports.js'
import type { AllocationRequestDto, ItemDto, SettingsDto } from '../dto/allocation.dto.js'
import { intOf, optionalIdOf, requiredIdOf } from '../numbers.js'
import { AnswerWriter } from './answer-writer.js'
import { type ItemContext, type ItemTemplate, itemTemplate } from './item-template.js'

/** Wire fields → the service's request: numbers parsed (ids exactly), two-digit years expanded. */
export function allocationRequestFromDto(dto: AllocationRequestDto): AllocationRequest {
  // Every field written out (no spread of the parsed body): one object shape on the hot path.
  return {
    unit_id: optionalIdOf('unit_id', dto.unit_id),
    app_id: optionalIdOf('app_id', dto.app_id),
    device_id: requiredIdOf('device_id', dto.device_id),
    ifa: dto.ifa ?? '',
    unit_device_token: dto.unit_device_token,
    sdk_version: intOf(dto.sdk_version) ?? 0,
    timezone: dto.timezone,
    year_of_birth: normalizeYearOfBirth(intOf(dto.year_of_birth)),
    sex: dto.sex,
    region: dto.region,
    carrier: dto.carrier,
    country: dto.country,
    language: dto.language,
    device_os: intOf(dto.device_os),
    device_name: dto.device_name,
    registered_date: intOf(dto.registered_date),
    custom_target_1: dto.custom_target_1,
    custom_target_2: dto.custom_target_2,
    custom_target_3: dto.custom_target_3,
    categories: dto.categories,
    filter_categories: dto.filter_categories,
    filter_channel_ids: dto.filter_channel_ids,
    settings_page_display_ratio: dto.settings_page_display_ratio,
    excluded: dto.excluded,
  }
}

type Deps = { signer: PayloadSigner; publicBaseUrl: string }

export type AllocationPresenter = ReturnType<typeof createAllocationPresenter>

const ALL_HOURS = slotHours(undefined, 0)
const CAMPAIGNS = Buffer.from('{"campaigns":')
const OPEN = Buffer.from('[')
const COMMA = Buffer.from(',')
const CLOSE = Buffer.from(']')
const AFTER_CAMPAIGNS = Buffer.from(',"msg":"ok","code":200,"native_ads":[],"settings":')
const END = Buffer.from('}')
const CONTENT_END = Buffer.from(',"msg":"ok","code":200}')
const WEIGHT_SCALE = 10_000
const UPSTREAM_TYPE = { cpm: 'I', cpc: 'J', cpa: 'B' } as const
const NO_EXTRA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>

/**
 * Shapes an allocation into the v1 answer (docs/architecture.md §W3–§W6), as JSON text: every key with its v1
 * JSON type, the click-redirect and impression URLs with the SDK's placeholders, and a payload per item that
 * binds device, unit, campaign and expiry under PAYLOAD_SECRET. Each local item's JSON is rendered once per
 * campaign and unit (item-template.ts); per request only the device's values are spliced in.
 */
export function createAllocationPresenter({ signer, publicBaseUrl }: Deps) {
  const templateOf = templateCache(publicBaseUrl)
  const writer = new AnswerWriter()
  const campaigns = (a: Allocation, withAds: boolean) =>
    writeCampaigns(writer, a, withAds, templateOf, signer)
  return {
    /** The `POST /api/allocation/` answer, as JSON bytes. */
    allocation(a: Allocation): Buffer {
      writer.reset().bytes(CAMPAIGNS)
      campaigns(a, true)
      return writer
        .bytes(AFTER_CAMPAIGNS)
        .bytes(Buffer.from(JSON.stringify(settings(a.unit, a.request))))
        .bytes(END)
        .finish()
    },
    /** The `POST /api/content_allocation/` answer: `campaigns` is null when the unit takes no contents. */
    contentAllocation(a: Allocation): Buffer {
      if (!a.contents) return Buffer.from('{"campaigns":null,"msg":"ok","code":200}')
      writer.reset().bytes(CAMPAIGNS)
      campaigns(a, false)
      return writer.bytes(CONTENT_END).finish()
    },
    /** Told that an answer's response is done (sent or aborted): its memory may take a later answer. */
    release(answer: Buffer): void {
      writer.release(answer)
    },
  }
}

type TemplateOf = (a: Allocation, entry: CatalogEntry) => ItemTemplate

/** Templates per catalog entry (a new snapshot brings new entries) and unit, made on first use. */
function templateCache(publicBaseUrl: string): TemplateOf {
  const templates = new WeakMap<CatalogEntry, Map<number, ItemTemplate>>()
  return (a, entry) => {
    let byUnit = templates.get(entry)
    if (!byUnit) {
      byUnit = new Map()
      templates.set(entry, byUnit)
    }
    let template = byUnit.get(a.unit.id)
    if (!template) {
      const channel =
        entry.campaign.channel_id === null ? undefined : a.channels.get(entry.campaign.channel_id)
      template = itemTemplate(entry, a.unit, channel, publicBaseUrl)
      byUnit.set(a.unit.id, template)
    }
    return template
  }
}

function contextOf(a: Allocation): ItemContext {
  const { unit, request } = a
  return {
    adBaseReward: baseReward(unit, request, true),
    contentBaseReward: unit.base_reward,
    appId: String(request.app_id ?? unit.app_id),
    deviceId: String(request.device_id),
    ifa: queryEscape(request.ifa),
    unitDeviceToken: queryEscape(request.unit_device_token),
    currentSlot: a.currentSlot,
  }
}

/** The templates of the entries an SDK can open (v1 drops long click URLs), with their payload claims. */
function openable(a: Allocation, ctx: ItemContext, entries: readonly CatalogEntry[], templateOf: TemplateOf) {
  const { request, unit } = a
  const kept: ItemTemplate[] = []
  const claims: PayloadClaims[] = []
  for (const entry of entries) {
    const template = templateOf(a, entry)
    // Long contents always, long ads on Android ≤ 4.4W (API 20).
    const tooLong = template.clickUrlLength(ctx) > MAX_CLICK_URL_LENGTH
    if (tooLong && (!template.isAd || (request.device_os ?? 0) <= 20)) continue
    kept.push(template)
    const noBase = template.isAd && ctx.adBaseReward === 0 && unit.base_reward > 0
    const d = request.device_id
    claims.push(
      noBase
        ? { d, u: unit.id, c: entry.campaign.id, noBase: true }
        : { d, u: unit.id, c: entry.campaign.id },
    )
  }
  return { kept, claims }
}

/** Writes `[items…]`: ads, upstream ads (built as objects: rare), then contents. */
function writeCampaigns(
  out: AnswerWriter,
  a: Allocation,
  withAds: boolean,
  templateOf: TemplateOf,
  signer: PayloadSigner,
): void {
  const ctx = contextOf(a)
  const none = { kept: [] as ItemTemplate[], claims: [] as PayloadClaims[] }
  const ads = withAds ? openable(a, ctx, a.ads, templateOf) : none
  const contents = a.contents ? openable(a, ctx, a.contents, templateOf) : none
  // One cipher call mints every payload of the answer.
  const payloads = signer.signAll([...ads.claims, ...contents.claims])
  const upstream = withAds ? a.upstream.map((ad, i) => JSON.stringify(upstreamItem(a, ad, i, signer))) : []
  out.bytes(OPEN)
  let first = true
  const comma = () => {
    if (!first) out.bytes(COMMA)
    first = false
  }
  let p = 0
  for (const t of ads.kept) {
    comma()
    t.render(out, ctx, payloads[p++] ?? '')
  }
  for (const u of upstream) {
    comma()
    out.bytes(Buffer.from(u))
  }
  for (const t of contents.kept) {
    comma()
    t.render(out, ctx, payloads[p++] ?? '')
  }
  out.bytes(CLOSE)
}

/** An upstream network's ad: display-only (no rewards, its own click and impression URLs). */
function upstreamItem(a: Allocation, ad: UpstreamAd, index: number, signer: PayloadSigner): ItemDto {
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
    payload: signer.signAll([{ d: a.request.device_id, u: a.unit.id, c: id }])[0] ?? '',
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

/** The unit's base reward on an item; ads carry none for SDKs ≤ 1240 and in the US (v1 rule). */
function baseReward(unit: Unit, request: AllocationRequest, isAd: boolean): number {
  if (!isAd) return unit.base_reward
  return adBaseWithheld(request.country || unit.country, request.sdk_version) ? 0 : unit.base_reward
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
