import type { Campaign, ContentCategory, ContentChannel, Unit } from '../domain/catalog.js'
import {
  type CampaignDraft,
  type CampaignInput,
  type CategoryDraft,
  type ChannelDraft,
  campaignDraft,
  checkCampaign,
  checkUnit,
  normalizeCampaignUrls,
  type UnitDraft,
  type UnitInput,
  unitDraft,
} from '../domain/drafts.js'
import { AllotError } from '../domain/errors.js'
import type { AdminStores, Page, Reference, ResourceStore } from './ports/catalog.ports.js'

/** CRUD for one resource as the admin API sees it. */
export type AdminResource<T, Id, Input, Patch> = {
  list(page: Page): Promise<T[]>
  get(id: Id): Promise<T>
  create(input: Input & { id?: Id }): Promise<T>
  update(id: Id, patch: Patch): Promise<T>
  remove(id: Id): Promise<void>
}

export type AdminService = {
  units: AdminResource<Unit, number, UnitInput, Partial<UnitDraft>>
  campaigns: AdminResource<Campaign, number, CampaignInput, Partial<CampaignDraft>>
  categories: AdminResource<ContentCategory, string, CategoryDraft, Partial<CategoryDraft>>
  channels: AdminResource<ContentChannel, number, ChannelDraft, Partial<ChannelDraft>>
}

type Deps = AdminStores & {
  /** Called after every write; resolves once allocation sees the change. */
  onCatalogChange: () => Promise<void>
}

/** Admin use cases: validate, store, then make the change visible to allocation. */
export function createAdminService(deps: Deps): AdminService {
  const { onCatalogChange } = deps
  return {
    units: resource('unit', deps.units, unitDraft, (u, patch) => {
      const draft = { ...u, ...patch }
      checkUnit(draft)
      return draft
    }),
    campaigns: resource('campaign', deps.campaigns, campaignDraft, (c, patch) => {
      const draft = { ...c, ...patch }
      checkCampaign(draft)
      return normalizeCampaignUrls(draft)
    }),
    categories: resource(
      'category',
      deps.categories,
      (input: CategoryDraft) => input,
      (c, p) => ({ ...c, ...p }),
    ),
    channels: resource(
      'channel',
      deps.channels,
      (input: ChannelDraft) => input,
      (c, p) => ({ ...c, ...p }),
    ),
  }

  function resource<T extends { id: Id }, Id, Draft, Input, Patch>(
    label: string,
    store: ResourceStore<T, Id, Draft>,
    fromInput: (input: Input) => Draft,
    merge: (current: Draft, patch: Patch) => Draft,
  ): AdminResource<T, Id, Input, Patch> {
    const notFound = (id: Id) =>
      new AllotError('ResourceNotFound', `${label} id ${String(id)} does not exist`)
    const toDraft = (row: T): Draft => {
      const { id: _id, created_at: _c, updated_at: _u, ...draft } = row as T & Record<string, unknown>
      return draft as unknown as Draft
    }
    return {
      list: (page) => store.list(page),
      async get(id) {
        const found = await store.get(id)
        if (!found) throw notFound(id)
        return found
      },
      async create(input) {
        const { id, ...rest } = input
        const created = await store.create(fromInput(rest as Input), id)
        if (!created) throw new AllotError('AlreadyExists', `${label} id ${String(id)} already exists`)
        await onCatalogChange()
        return created
      },
      async update(id, patch) {
        const current = await store.get(id)
        if (!current) throw notFound(id)
        const updated = await store.update(id, merge(toDraft(current), patch))
        if (!updated) throw notFound(id)
        await onCatalogChange()
        return updated
      },
      async remove(id) {
        if (!(await store.remove(id, (references) => refuseIfUsed(label, id, references)))) throw notFound(id)
        await onCatalogChange()
      },
    }
  }
}

/**
 * Nothing may still refer to a deleted resource (a campaign targeting a deleted unit, a ledger row of it):
 * "unit 1001 is used by 3 campaigns (target_unit), 12 reward ledger rows and 40 device registrations".
 */
function refuseIfUsed(label: string, id: unknown, references: readonly Reference[]): void {
  const uses = references
    .filter((r) => r.count > 0)
    .map((r) => `${r.count} ${r.count === 1 ? r.one : r.many}`)
  if (uses.length === 0) return
  const listed = uses.length === 1 ? uses[0] : `${uses.slice(0, -1).join(', ')} and ${uses.at(-1)}`
  throw new AllotError('InUse', `${label} ${String(id)} is used by ${listed}`)
}
