import type { ContentCategory, ContentChannel } from '../domain/catalog.js'
import type { CatalogSnapshot } from '../domain/catalog-snapshot.js'
import {
  type ContentConfig,
  type ContentConfigType,
  defaultContentConfig,
  toggleContent,
} from '../domain/content-config.js'
import { AllotError } from '../domain/errors.js'

/** Where device content configs live; `update` applies `change` atomically to the stored (or default) config. */
export type ContentConfigStore = {
  getContentConfig(deviceId: number): Promise<ContentConfig | undefined>
  updateContentConfig(
    deviceId: number,
    change: (current: ContentConfig) => ContentConfig,
  ): Promise<ContentConfig>
}

export type ContentService = {
  /** First-or-init: a device that never changed its filters gets the defaults, and nothing is written. */
  getConfig(deviceId: number): Promise<ContentConfig>
  setEnabled(deviceId: number, type: ContentConfigType, id: string, enabled: boolean): Promise<ContentConfig>
  categories(): ContentCategory[]
  channels(category?: string): ContentChannel[]
}

type Deps = { configs: ContentConfigStore; catalog: { current(): CatalogSnapshot } }

/** The SDK's content settings: categories, channels and the device's filters over them. */
export function createContentService({ configs, catalog }: Deps): ContentService {
  function checkKnown(type: ContentConfigType, id: string): void {
    const snapshot = catalog.current()
    const known =
      type === 'category'
        ? snapshot.categories.some((c) => c.id === id)
        : type === 'channel'
          ? snapshot.channels.some((c) => String(c.id) === id)
          : snapshot.contents.some((e) => String(e.campaign.id) === id)
    if (!known) throw new AllotError('InvalidField', `id '${id}' is not a known ${type}`)
  }

  return {
    async getConfig(deviceId) {
      return (await configs.getContentConfig(deviceId)) ?? defaultContentConfig(deviceId)
    },
    async setEnabled(deviceId, type, id, enabled) {
      checkKnown(type, id)
      return configs.updateContentConfig(deviceId, (current) => toggleContent(current, type, id, enabled))
    },
    categories: () =>
      [...catalog.current().categories].sort(
        (a, b) => a.sort_order - b.sort_order || a.id.localeCompare(b.id),
      ),
    channels: (category) =>
      catalog.current().channels.filter((c) => category === undefined || c.category === category),
  }
}
