import type { Kysely } from 'kysely'
import {
  type BudgetPacing,
  type BudgetType,
  type Campaign,
  type CampaignStatus,
  type CampaignType,
  type DisplayType,
  detargetKey,
  LIST_TARGETS,
  type Targeting,
  targetKey,
} from '../domain/catalog.js'
import type { CampaignDraft } from '../domain/drafts.js'
import type { CampaignsTable, Database } from '../infra/database/schema.js'
import { createSqlResourceRepository, num, numOrNull, parseJson } from './sql-resource.repository.js'

type ListKey = { [K in keyof Targeting]: Targeting[K] extends string[] ? K : never }[keyof Targeting]
const LIST_KEYS = LIST_TARGETS.flatMap((name) => [targetKey(name), detargetKey(name)]) as ListKey[]

type Row = Omit<CampaignsTable, 'id'> & { id: number }

/** The one place a campaign row becomes a domain campaign. */
export function campaignFromRow(raw: Record<string, unknown>): Campaign {
  const row = raw as Row
  const lists = parseJson<Record<string, string[]>>(row.target_lists, {})
  const targeting = Object.fromEntries(LIST_KEYS.map((k) => [k, lists[k] ?? []]))
  return {
    ...(targeting as Pick<Targeting, ListKey>),
    id: num(row.id),
    is_ad: Boolean(num(row.is_ad)),
    name: row.name,
    type: row.type as CampaignType,
    owner_id: numOrNull(row.owner_id),
    provider_id: numOrNull(row.provider_id),
    channel_id: numOrNull(row.channel_id),
    categories: parseJson(row.categories, []),
    title: row.title,
    description: row.description,
    image: row.image,
    click_url: row.click_url,
    impression_urls: parseJson(row.impression_urls, []),
    landing_type: num(row.landing_type),
    display_type: row.display_type as DisplayType,
    display_weight: num(row.display_weight),
    first_display_priority: num(row.first_display_priority),
    status: row.status as CampaignStatus,
    start_date: num(row.start_date),
    end_date: num(row.end_date),
    published_at: numOrNull(row.published_at),
    week_slot: parseJson(row.week_slot, []),
    ipu: numOrNull(row.ipu),
    dipu: numOrNull(row.dipu),
    tipu: numOrNull(row.tipu),
    budget_type: row.budget_type as BudgetType | null,
    budget_daily: numOrNull(row.budget_daily),
    budget_total: numOrNull(row.budget_total),
    budget_pacing: row.budget_pacing as BudgetPacing,
    unlock_reward: num(row.unlock_reward),
    landing_reward: num(row.landing_reward),
    action_reward: num(row.action_reward),
    target_age_min: numOrNull(row.target_age_min),
    target_age_max: numOrNull(row.target_age_max),
    detarget_age_min: numOrNull(row.detarget_age_min),
    detarget_age_max: numOrNull(row.detarget_age_max),
    target_os_min: numOrNull(row.target_os_min),
    target_os_max: numOrNull(row.target_os_max),
    detarget_os_min: numOrNull(row.detarget_os_min),
    detarget_os_max: numOrNull(row.detarget_os_max),
    target_sdk_min: numOrNull(row.target_sdk_min),
    target_sdk_max: numOrNull(row.target_sdk_max),
    detarget_sdk_min: numOrNull(row.detarget_sdk_min),
    detarget_sdk_max: numOrNull(row.detarget_sdk_max),
    registered_days_min: numOrNull(row.registered_days_min),
    registered_days_max: numOrNull(row.registered_days_max),
    created_at: num(row.created_at),
    updated_at: num(row.updated_at),
  }
}

/** The one place a campaign draft becomes a row (without id and created_at). */
export function campaignToRow(draft: CampaignDraft, now: number): Omit<Row, 'id' | 'created_at'> {
  const { categories, impression_urls, week_slot, is_ad, ...rest } = draft
  const lists = Object.fromEntries(LIST_KEYS.map((k) => [k, draft[k]]))
  const scalars = Object.fromEntries(
    Object.entries(rest).filter(([k]) => !(LIST_KEYS as string[]).includes(k)),
  ) as Omit<CampaignDraft, ListKey | 'categories' | 'impression_urls' | 'week_slot' | 'is_ad'>
  return {
    ...scalars,
    is_ad: is_ad ? 1 : 0,
    categories: JSON.stringify(categories),
    impression_urls: JSON.stringify(impression_urls),
    week_slot: JSON.stringify(week_slot),
    target_lists: JSON.stringify(lists),
    updated_at: now,
  }
}

/** Campaign storage: admin CRUD plus the catalog's read of servable campaigns. */
export function createCampaignRepository(db: Kysely<Database>, clock: () => number) {
  const crud = createSqlResourceRepository<Campaign, number, CampaignDraft>(
    db,
    { table: 'campaigns', toRow: campaignToRow, fromRow: campaignFromRow, stamped: true, catalog: true },
    clock,
  )
  return {
    ...crud,
    async listServableCampaigns(now: number): Promise<Campaign[]> {
      const rows = await db
        .selectFrom('campaigns')
        .selectAll()
        .where('status', '=', 'active')
        .where('end_date', '>', now)
        .execute()
      return rows.map(campaignFromRow)
    },
    async catalogVersion(): Promise<number> {
      const row = await db
        .selectFrom('catalog_state')
        .select('version')
        .where('id', '=', 1)
        .executeTakeFirst()
      return num(row?.version ?? 0)
    },
  }
}
