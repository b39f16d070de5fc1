import type { Campaign } from './catalog.js'

export const CONTENT_CONFIG_TYPES = ['category', 'channel', 'campaign'] as const
export type ContentConfigType = (typeof CONTENT_CONFIG_TYPES)[number]

/** A device's content filters: the categories, channels and single campaigns it has turned off. */
export type ContentConfig = {
  device_id: number
  category: string[]
  channel: number[]
  campaign: number[]
}

/** The filters of a device that never changed them: everything on. */
export function defaultContentConfig(deviceId: number): ContentConfig {
  return { device_id: deviceId, category: [], channel: [], campaign: [] }
}

/** Turns one category, channel or campaign on or off; returns a new config. */
export function toggleContent(
  config: ContentConfig,
  type: ContentConfigType,
  id: string,
  enabled: boolean,
): ContentConfig {
  const next = {
    ...config,
    category: [...config.category],
    channel: [...config.channel],
    campaign: [...config.campaign],
  }
  const list: (string | number)[] = next[type]
  const value = type === 'category' ? id : Number(id)
  const at = list.indexOf(value)
  if (enabled && at >= 0) list.splice(at, 1)
  if (!enabled && at < 0) list.push(value)
  return next
}

/** Compiled form of a config for the allocation hot path. */
export type ContentFilter = (c: Campaign) => boolean

/** Whether a content passes the device's filters (ads are never filtered by content config). */
export function contentFilter(config: ContentConfig | undefined): ContentFilter {
  if (
    !config ||
    (config.category.length === 0 && config.channel.length === 0 && config.campaign.length === 0)
  ) {
    return () => true
  }
  const categories = new Set(config.category)
  const channels = new Set(config.channel)
  const campaigns = new Set(config.campaign)
  return (c) =>
    c.is_ad ||
    (!campaigns.has(c.id) &&
      (c.channel_id === null || !channels.has(c.channel_id)) &&
      !c.categories.some((cat) => categories.has(cat)))
}
