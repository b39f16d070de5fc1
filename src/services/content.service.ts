import { Buffer } from 'node:buffer'
import type { ContentCategory, ContentChannel } from '../domain/catalog.js'
import type { CatalogSnapshot } from '../domain/catalog-snapshot.js'
import {
  DEVICE_CONFIG_TYPES,
  type DeviceContentConfig,
  emptyDeviceContentConfig,
  isDeviceConfigType,
  MAX_DEVICE_CONFIG_BYTES,
} from '../domain/device-content-config.js'
import { AllotError } from '../domain/errors.js'
import type { ContentConfigStore } from './ports/catalog.ports.js'

export type ContentService = {
  /** First-or-init without the write: a device that never stored anything reads three empty strings. */
  getConfig(deviceId: number): Promise<DeviceContentConfig>
  /** Stores `config` verbatim as the device's `type` config (docs/architecture.md §W10). */
  setConfig(deviceId: number, type: string, config: string): Promise<void>
  /** Every category, in sort order. */
  categories(): readonly ContentCategory[]
  /** The channels with these ids; unknown ids are left out. */
  channels(ids: readonly number[]): ContentChannel[]
}

type Deps = { configs: ContentConfigStore; catalog: { current(): CatalogSnapshot } }

/** The SDK's content settings: its per-device config strings, and the catalog's categories and channels. */
export function createContentService({ configs, catalog }: Deps): ContentService {
  // Derived once per catalog snapshot, not per request.
  const sortedCategories = new WeakMap<CatalogSnapshot, readonly ContentCategory[]>()
  const channelsById = new WeakMap<CatalogSnapshot, ReadonlyMap<number, ContentChannel>>()

  return {
    async getConfig(deviceId) {
      return (await configs.get(deviceId)) ?? emptyDeviceContentConfig(deviceId)
    },

    async setConfig(deviceId, type, config) {
      if (!isDeviceConfigType(type)) {
        throw new AllotError(
          'UnsupportedConfigType',
          `body.type '${type.slice(0, 64)}' is not one of ${DEVICE_CONFIG_TYPES.join(', ')}`,
        )
      }
      const bytes = Buffer.byteLength(config, 'utf8')
      if (bytes > MAX_DEVICE_CONFIG_BYTES) {
        throw new AllotError(
          'InvalidField',
          `body.config is ${bytes} bytes; at most ${MAX_DEVICE_CONFIG_BYTES} (UTF-8) are kept`,
        )
      }
      await configs.set(deviceId, type, config)
    },

    categories() {
      const snapshot = catalog.current()
      let sorted = sortedCategories.get(snapshot)
      if (!sorted) {
        sorted = [...snapshot.categories].sort(
          (a, b) => a.sort_order - b.sort_order || a.id.localeCompare(b.id),
        )
        sortedCategories.set(snapshot, sorted)
      }
      return sorted
    },

    channels(ids) {
      const snapshot = catalog.current()
      let byId = channelsById.get(snapshot)
      if (!byId) {
        byId = new Map(snapshot.channels.map((c) => [c.id, c]))
        channelsById.set(snapshot, byId)
      }
      const found: ContentChannel[] = []
      for (const id of new Set(ids)) {
        const channel = byId.get(id)
        if (channel) found.push(channel)
      }
      return found
    },
  }
}
