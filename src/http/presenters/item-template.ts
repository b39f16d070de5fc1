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
 * The JSON of a v1 item, rendered once per campaign and unit (SDK-CONTRACT §3.2, keys in v1's order): per
 * request only the payload, the device's fields of the click URL, the impression URL's data, the slot and
 * the base reward are spliced in. The static parts are JSON- and query-escaped once, here; the spliced
 * values need no JSON escaping (query-escaped text and base64url are plain ASCII without `"` or `\`).
 */
export function itemTemplate(
  entry: CatalogEntry,
  unit: Unit,
  channel: ContentChannel | undefined,
  publicBaseUrl: string,
): ItemTemplate {
  const c = entry.campaign
  const id = wireCampaignId(c.id, c.is_ad)
  const json = JSON.stringify
  const isMedia = c.owner_id !== null && c.owner_id === unit.owner_id
  // The click URL: Go's url.Values order (sorted keys); the device's values go between static runs.
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
  const clickPrefix = `${publicBaseUrl}/api/click_redirect/?${c0}`
  // redirect_url = the campaign URL with `{ifa}` replaced: escaping is per character, so escape the parts.
  const redirectParts = c.click_url.split('{ifa}').map(queryEscape)
  const hasClick = c.click_url !== ''
  const impressionPrefix = `${publicBaseUrl}/api/content_impression/?data=`
  const impressionSuffix = `&${goQuery({
    place: CLICK_PLACEHOLDERS.place,
    position: CLICK_PLACEHOLDERS.position,
    session_id: CLICK_PLACEHOLDERS.session_id,
  })}`
  const others = c.impression_urls.map((u) => `,${json(u)}`).join('')
  const head = `{"action_reward":${c.is_ad ? c.action_reward : 0},"adchoice_url":"","base_reward":`
  const channelObject = channel
    ? `{"id":${channel.id},"logo":${json(channel.icon_url)},"name":${json(channel.name)}}`
    : 'null'
  const afterBase =
    `,"category":${json(c.is_ad ? '' : c.categories.join(','))}` +
    (c.is_ad || c.channel_id === null ? '' : `,"channel_id":${c.channel_id}`) +
    `,"channel":${channelObject},"clean_mode":${c.clean_mode},"click_url":"`
  const afterClick =
    `","display_type":${json(c.display_type)},"ended_at":${Math.floor(c.end_date / 1000)}` +
    `,"extra":${json(c.extra)},"first_display_priority":${c.is_ad ? c.first_display_priority : 10}` +
    `,"first_display_weight":${Math.min(c.display_weight * 10_000, 10_000_000)},"id":${id}` +
    `,"image":${json(c.image)},"impression_urls":["${impressionPrefix}`
  const afterImpression =
    `${impressionSuffix}"${others}],"ipu":${c.ipu || 9999},"is_ad":${c.is_ad},"is_media":${isMedia}` +
    `,"landing_reward":${c.landing_reward},"landing_type":"${landingTypeName(c.landing_type, unit.supports_cardview)}"` +
    `,"meta":null,"name":${json(c.name)},"owner_id":${c.owner_id ?? 0},"payload":"`
  const afterPayload = `","remove_after_impression":false,"slot":"`
  const tail =
    `","started_at":${Math.floor(c.start_date / 1000)},"source_url":${json(c.is_ad ? '' : c.click_url)}` +
    `,"support_webp":true,"target_app":${json(c.target_app.join(','))},"timezone":${json(unit.timezone)}` +
    `,"tipu":${c.tipu ?? 0},"type":${json(c.type)},"unit_price":0` +
    `,"unlock_reward":${c.is_ad ? c.unlock_reward : 0},"creative":null,"ad_report_data":""}`
  // Every static run encoded once; the click URL's static runs are ASCII (query-escaped).
  const bytes = (text: string) => Buffer.from(text)
  const [headB, afterBaseB, afterClickB, afterImpressionB, afterPayloadB, tailB] = [
    head,
    afterBase,
    afterClick,
    afterImpression,
    afterPayload,
    tail,
  ].map(bytes) as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer]
  const click = [clickPrefix, c1, c2, c3, c4, c5].map(bytes) as [
    Buffer,
    Buffer,
    Buffer,
    Buffer,
    Buffer,
    Buffer,
  ]
  const redirect = redirectParts.map(bytes)
  const clickStatic = click.reduce((n, b) => n + b.length, 0) + redirect.reduce((n, b) => n + b.length, 0)
  let slotFor = -1
  let slot = ''

  return {
    id,
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
        .bytes(headB)
        .ascii(String(c.is_ad ? ctx.adBaseReward : ctx.contentBaseReward))
        .bytes(afterBaseB)
      if (hasClick) {
        out
          .bytes(click[0])
          .ascii(ctx.appId)
          .bytes(click[1])
          .ascii(ctx.deviceId)
          .bytes(click[2])
          .ascii(ctx.ifa)
        out.bytes(click[3])
        for (let i = 0; i < redirect.length; i++) {
          if (i > 0) out.ascii(ctx.ifa)
          out.bytes(redirect[i] as Buffer)
        }
        out.bytes(click[4]).ascii(ctx.unitDeviceToken).bytes(click[5])
      }
      out.bytes(afterClickB).ascii(payload).bytes(afterImpressionB).ascii(payload).bytes(afterPayloadB)
      out.ascii(slot).bytes(tailB)
    },
  }
}
