/** The kinds of content config a v1 SDK stores (docs/architecture.md §W10), one opaque string each. */
export const DEVICE_CONFIG_TYPES = ['category', 'channel', 'campaign'] as const
export type DeviceConfigType = (typeof DEVICE_CONFIG_TYPES)[number]

/**
 * A device's content config exactly as its SDK stored it. Allot never parses these strings (the SDK applies
 * them itself, sending `filter_categories` / `filter_channel_ids` with each allocation); '' = never set.
 */
export type DeviceContentConfig = {
  device_id: number
  channel: string
  category: string
  campaign: string
}

/** The longest config string kept, in UTF-8 bytes (a channel follow list of ~1,000 ids fits easily). */
export const MAX_DEVICE_CONFIG_BYTES = 8 * 1024

/** What a device that never stored anything reads. */
export function emptyDeviceContentConfig(deviceId: number): DeviceContentConfig {
  return { device_id: deviceId, channel: '', category: '', campaign: '' }
}

export function isDeviceConfigType(type: string): type is DeviceConfigType {
  return (DEVICE_CONFIG_TYPES as readonly string[]).includes(type)
}
