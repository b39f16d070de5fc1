import type { Campaign, ContentCategory, ContentChannel, Unit } from '../../domain/catalog.js'
import type { DeviceConfigType, DeviceContentConfig } from '../../domain/device-content-config.js'
import type { CampaignDraft, CategoryDraft, ChannelDraft, UnitDraft } from '../../domain/drafts.js'

/*
 * Ports of the catalog feature: what the SQL repositories implement for the catalog snapshot, the admin
 * API and the SDK's content config. Repositories satisfy them by shape, without importing this file.
 */

/** One campaign by id, including those outside the servable snapshot (paused, ended). */
export type CampaignLookup = { get(id: number): Promise<Campaign | undefined> }

/** Where the catalog comes from (the SQL database in both modes). */
export type CatalogStore = {
  /** A number that changes whenever units or campaigns change. */
  catalogVersion(): Promise<number>
  listUnits(): Promise<Unit[]>
  /**
   * Hands `take` every campaign that may be served now or later (active and not yet ended at `now`), one by
   * one as they are read; resolves when the last was handed over.
   */
  eachServableCampaign(now: number, take: (campaign: Campaign) => void): Promise<void>
  listCategories(): Promise<ContentCategory[]>
  listChannels(): Promise<ContentChannel[]>
}

export type Page = { limit: number; offset: number }

/** Rows elsewhere that still refer to a resource, counted: `{ count: 3, one: 'campaign', many: 'campaigns' }`. */
export type Reference = { count: number; one: string; many: string }

/** The storage a resource needs for admin CRUD; `create` returns undefined when the id is taken. */
export type ResourceStore<T, Id, Draft> = {
  list(page: Page): Promise<T[]>
  get(id: Id): Promise<T | undefined>
  create(draft: Draft, id?: Id): Promise<T | undefined>
  update(id: Id, draft: Draft): Promise<T | undefined>
  /**
   * Deletes the row in one transaction with `check`, which sees what still refers to it and throws to keep
   * the row; false when there is no such row.
   */
  remove(id: Id, check: (references: readonly Reference[]) => void): Promise<boolean>
}

export type AdminStores = {
  units: ResourceStore<Unit, number, UnitDraft>
  campaigns: ResourceStore<Campaign, number, CampaignDraft>
  categories: ResourceStore<ContentCategory, string, CategoryDraft>
  channels: ResourceStore<ContentChannel, number, ChannelDraft>
}

/** Where device content configs live (the SQL database; no cache: only the SDK's settings screen reads them). */
export type ContentConfigStore = {
  get(deviceId: number): Promise<DeviceContentConfig | undefined>
  /** Stores one of the three strings verbatim, creating the device's row when it has none. */
  set(deviceId: number, type: DeviceConfigType, config: string): Promise<void>
}
