import type { ContentChannel, Unit } from '../../domain/catalog.js'
import type { CatalogEntry } from '../../domain/catalog-snapshot.js'
import {
  CLICK_PLACEHOLDERS,
  goQuery,
  landingTypeName,
  queryEscape,
  slotHours,
  wireCampaignId,
} from '../../domain/sdk-v1.js'
import type { AnswerWriter } from './answer-writer.js'

/** What one item needs from its request: the device's own values, already escaped where they go. */
export type ItemContext = {
  /** base_reward for this request (ads carry none for old SDKs and in the US). */
  adBaseReward: number
  contentBaseReward: number
  appId: string
  deviceId: string
  /** `queryEscape(ifa)` and `queryEscape(unit_device_token)`. */
  ifa: string
  unitDeviceToken: string
  currentSlot: number
}

/** One item's JSON with the device's values spliced in. */
export type ItemTemplate = {
  readonly id: number
  readonly isAd: boolean
  /** Length of the item's click URL for this device (0 when the campaign has no landing). */
  clickUrlLength(ctx: ItemContext): number
  /** Writes the item's JSON. */
  render(out: AnswerWriter, ctx: ItemContext, payload: string): void
}

/**
 * The JSON of a v1 item, rendered once per campaign and unit (docs/architecture.md §W3.2, keys in v1's
 * order): per request only the payload, the device's fields of the click URL, the impression URL's data, the
 * slot and the base reward are spliced in. The static parts are JSON- and query-escaped once, here; the
 * spliced values need no JSON escaping (query-escaped text and base64url are plain ASCII without `"` or `\`).
 */
export function itemTemplate(
  entry: CatalogEntry,
  unit: Unit,
  channel: ContentChannel | undefined,
  publicBaseUrl: string,
): ItemTemplate {
  const c = entry.campaign
  const parts = staticParts(entry, unit, channel, publicBaseUrl)
  const { click, redirect } = parts
  const hasClick = c.click_url !== ''
  const clickStatic = click.reduce((n, b) => n + b.length, 0) + redirect.reduce((n, b) => n + b.length, 0)
  let slotFor = -1
  let slot = ''
  return {
    id: wireCampaignId(c.id, c.is_ad),
    isAd: c.is_ad,
    clickUrlLength(ctx) {
      if (!hasClick) return 0
      // The ifa once as `ifa`, and once in `redirect_url` between each two of its parts.
      const ifaTimes = redirect.length
      return (
        clickStatic +
        ctx.appId.length +
        ctx.deviceId.length +
        ctx.unitDeviceToken.length +
        ctx.ifa.length * ifaTimes
      )
    },
    render(out, ctx, payload) {
      if (slotFor !== ctx.currentSlot) {
        slot = slotHours(entry.slots, ctx.currentSlot)
        slotFor = ctx.currentSlot
      }
      out
        .bytes(parts.head)
        .ascii(String(c.is_ad ? ctx.adBaseReward : ctx.contentBaseReward))
        .bytes(parts.afterBase)
      if (hasClick) writeClickUrl(out, ctx, click, redirect)
      out
        .bytes(parts.afterClick)
        .ascii(payload)
        .bytes(parts.afterImpression)
        .ascii(payload)
        .bytes(parts.afterPayload)
      out.ascii(slot).bytes(parts.tail)
    },
  }
}

type ClickRuns = readonly [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer]

/** The click URL with the device's values between its static runs (and the ifa between redirect_url's parts). */
function writeClickUrl(
  out: AnswerWriter,
  ctx: ItemContext,
  click: ClickRuns,
  redirect: readonly Buffer[],
): void {
  out.bytes(click[0]).ascii(ctx.appId).bytes(click[1]).ascii(ctx.deviceId).bytes(click[2]).ascii(ctx.ifa)
  out.bytes(click[3])
  for (let i = 0; i < redirect.length; i++) {
    if (i > 0) out.ascii(ctx.ifa)
    out.bytes(redirect[i] as Buffer)
  }
  out.bytes(click[4]).ascii(ctx.unitDeviceToken).bytes(click[5])
}

/**
 * The item's JSON around what each request splices in, rendered and encoded once: its static runs in v1's
 * key order, and the click URL's static runs (query-escaped, so ASCII).
 */
function staticParts(
  entry: CatalogEntry,
  unit: Unit,
  channel: ContentChannel | undefined,
  publicBaseUrl: string,
) {
  const c = entry.campaign
  const id = wireCampaignId(c.id, c.is_ad)
  const json = JSON.stringify
  const isMedia = c.owner_id !== null && c.owner_id === unit.owner_id
  const impressionPrefix = `${publicBaseUrl}/api/content_impression/?data=`
  const impressionSuffix = `&${goQuery({
    place: CLICK_PLACEHOLDERS.place,
    position: CLICK_PLACEHOLDERS.position,
    session_id: CLICK_PLACEHOLDERS.session_id,
  })}`
  const others = c.impression_urls.map((u) => `,${json(u)}`).join('')
  const channelObject = channel
    ? `{"id":${channel.id},"logo":${json(channel.icon_url)},"name":${json(channel.name)}}`
    : 'null'
  const bytes = (text: string) => Buffer.from(text)
  return {
    head: bytes(`{"action_reward":${c.is_ad ? c.action_reward : 0},"adchoice_url":"","base_reward":`),
    afterBase: bytes(
      `,"category":${json(c.is_ad ? '' : c.categories.join(','))}` +
        (c.is_ad || c.channel_id === null ? '' : `,"channel_id":${c.channel_id}`) +
        `,"channel":${channelObject},"clean_mode":${c.clean_mode},"click_url":"`,
    ),
    afterClick: bytes(
      `","display_type":${json(c.display_type)},"ended_at":${Math.floor(c.end_date / 1000)}` +
        `,"extra":${json(c.extra)},"first_display_priority":${c.is_ad ? c.first_display_priority : 10}` +
        `,"first_display_weight":${Math.min(c.display_weight * 10_000, 10_000_000)},"id":${id}` +
        `,"image":${json(c.image)},"impression_urls":["${impressionPrefix}`,
    ),
    afterImpression: bytes(
      `${impressionSuffix}"${others}],"ipu":${c.ipu || 9999},"is_ad":${c.is_ad},"is_media":${isMedia}` +
        `,"landing_reward":${c.landing_reward},"landing_type":"${landingTypeName(c.landing_type, unit.supports_cardview)}"` +
        `,"meta":null,"name":${json(c.name)},"owner_id":${c.owner_id ?? 0},"payload":"`,
    ),
    afterPayload: bytes(`","remove_after_impression":false,"slot":"`),
    tail: bytes(
      `","started_at":${Math.floor(c.start_date / 1000)},"source_url":${json(c.is_ad ? '' : c.click_url)}` +
        `,"support_webp":true,"target_app":${json(c.target_app.join(','))},"timezone":${json(unit.timezone)}` +
        `,"tipu":${c.tipu ?? 0},"type":${json(c.type)},"unit_price":0` +
        `,"unlock_reward":${c.is_ad ? c.unlock_reward : 0},"creative":null,"ad_report_data":""}`,
    ),
    ...clickRuns(c, unit, id, isMedia, publicBaseUrl),
  }
}

/** The click URL's static runs: Go's url.Values order (sorted keys); the device's values go between them. */
function clickRuns(
  c: CatalogEntry['campaign'],
  unit: Unit,
  id: number,
  isMedia: boolean,
  publicBaseUrl: string,
) {
  const clickQuery = goQuery({
    app_id: '\u0001',
    unit_id: String(unit.id),
    device_id: '\u0002',
    ifa: '\u0003',
    unit_device_token: '\u0005',
    campaign_id: String(id),
    campaign_type: c.type,
    campaign_name: c.name,
    campaign_owner_id: c.owner_id ? String(c.owner_id) : '',
    campaign_is_media: isMedia ? '1' : '0',
    redirect_url: '\u0004',
    redirect_url_clean: c.clean_link,
    ...CLICK_PLACEHOLDERS,
  })
  // Markers were query-escaped to %01..%05; split the static text around them.
  const [c0, c1, c2, c3, c4, c5] = clickQuery.split(/%0[1-5]/) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ]
  const click = [`${publicBaseUrl}/api/click_redirect/?${c0}`, c1, c2, c3, c4, c5].map((t) =>
    Buffer.from(t),
  ) as unknown as ClickRuns
  // redirect_url = the campaign URL with `{ifa}` replaced: escaping is per character, so escape the parts.
  const redirect = c.click_url.split('{ifa}').map((part) => Buffer.from(queryEscape(part)))
  return { click, redirect }
}
