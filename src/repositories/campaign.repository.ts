import { type Kysely, sql } from 'kysely'
import type {
  BudgetPacing,
  BudgetType,
  Campaign,
  CampaignStatus,
  CampaignType,
  DisplayType,
  RevenueType,
} from '../domain/catalog.js'
import type { CampaignDraft } from '../domain/drafts.js'
import { TARGETING_LIST_KEYS } from '../domain/targeting-fields.js'
import type { CampaignsTable, Database } from '../infra/database/schema.js'
import { createSqlResourceRepository, num, numOrNull, parseJson } from './sql-resource.repository.js'

const LIST_KEYS = TARGETING_LIST_KEYS
type ListKey = (typeof LIST_KEYS)[number]

type Row = Omit<CampaignsTable, 'id'> & { id: number }

// Most targeting lists are empty; sharing one frozen empty list keeps 100,000 campaigns small in memory.
const EMPTY: string[] = Object.freeze([]) as unknown as string[]

/**
 * Equal values of one listing made one (frozen) value: across a large catalog the same lists (one unit, one
 * country, the same week_slot) and the same enum texts repeat in most rows, and each copy costs heap.
 */
type Shared = Map<string, unknown>
function shared<T>(seen: Shared | undefined, key: string, make: () => T): T {
  if (!seen) return make()
  let value = seen.get(key) as T | undefined
  if (value === undefined) {
    value = make()
    seen.set(key, typeof value === 'object' && value !== null ? Object.freeze(value) : value)
  }
  return value
}
const list = <T>(text: unknown, seen?: Shared): T[] =>
  text === '[]' || text === '' || typeof text !== 'string'
    ? (EMPTY as T[])
    : shared(seen, `l${text}`, () => parseJson<T[]>(text, EMPTY as T[]))
const word = <T extends string | null>(text: T, seen?: Shared): T =>
  text === null ? text : shared(seen, `w${text}`, () => text)
const SERVABLE_PAGE = 500
const EMPTY_EXTRA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>

/** The one place a campaign row becomes a domain campaign; `seen` shares equal values within one listing. */
function campaignFromRow(raw: Record<string, unknown>, seen?: Shared): Campaign {
  const row = raw as Row
  const lists = parseJson<Record<string, string[]>>(row.target_lists, {})
  const l = (key: ListKey) => {
    const values = lists[key]
    return values?.length ? shared(seen, `t${JSON.stringify(values)}`, () => values) : EMPTY
  }
  // Every field is written out (no spread): a literal with a fixed shape keeps V8's fast property access
  // on the allocation hot path; spreading a row-sized object would make it a slow dictionary object.
  return {
    target_gender: l('target_gender'),
    detarget_gender: l('detarget_gender'),
    target_language: l('target_language'),
    detarget_language: l('detarget_language'),
    target_carrier: l('target_carrier'),
    detarget_carrier: l('detarget_carrier'),
    target_region: l('target_region'),
    detarget_region: l('detarget_region'),
    target_country: l('target_country'),
    detarget_country: l('detarget_country'),
    target_unit: l('target_unit'),
    detarget_unit: l('detarget_unit'),
    target_app_id: l('target_app_id'),
    detarget_app_id: l('detarget_app_id'),
    target_app: l('target_app'),
    detarget_app: l('detarget_app'),
    custom_target_1: l('custom_target_1'),
    detarget_custom_target_1: l('detarget_custom_target_1'),
    custom_target_2: l('custom_target_2'),
    detarget_custom_target_2: l('detarget_custom_target_2'),
    custom_target_3: l('custom_target_3'),
    detarget_custom_target_3: l('detarget_custom_target_3'),
    id: num(row.id),
    is_ad: Boolean(num(row.is_ad)),
    name: row.name,
    type: row.type as CampaignType,
    owner_id: numOrNull(row.owner_id),
    provider_id: numOrNull(row.provider_id),
    channel_id: numOrNull(row.channel_id),
    categories: list(row.categories, seen),
    title: row.title,
    description: row.description,
    image: row.image,
    click_url: row.click_url,
    impression_urls: list(row.impression_urls),
    landing_type: num(row.landing_type),
    display_type: word(row.display_type, seen) as DisplayType,
    display_weight: num(row.display_weight),
    first_display_priority: num(row.first_display_priority),
    status: word(row.status, seen) as CampaignStatus,
    start_date: num(row.start_date),
    end_date: num(row.end_date),
    published_at: numOrNull(row.published_at),
    week_slot: list(row.week_slot, seen),
    ipu: numOrNull(row.ipu),
    dipu: numOrNull(row.dipu),
    tipu: numOrNull(row.tipu),
    budget_type: word(row.budget_type, seen) as BudgetType | null,
    budget_daily: numOrNull(row.budget_daily),
    budget_total: numOrNull(row.budget_total),
    budget_pacing: word(row.budget_pacing, seen) as BudgetPacing,
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
    clean_link: row.clean_link ?? '',
    clean_mode: num(row.clean_mode ?? 0),
    extra: row.extra === null || row.extra === '{}' ? EMPTY_EXTRA : parseJson(row.extra, EMPTY_EXTRA),
    revenue_type: word(row.revenue_type ?? null, seen) as RevenueType | null,
    created_at: num(row.created_at),
    updated_at: num(row.updated_at),
  }
}

/** The one place a campaign draft becomes a row (without id and created_at). */
export function campaignToRow(draft: CampaignDraft, now: number): Omit<Row, 'id' | 'created_at'> {
  const { categories, impression_urls, week_slot, is_ad, extra, ...rest } = draft
  const lists = Object.fromEntries(LIST_KEYS.map((k) => [k, draft[k]]))
  const scalars = Object.fromEntries(
    Object.entries(rest).filter(([k]) => !(LIST_KEYS as string[]).includes(k)),
  ) as Omit<CampaignDraft, ListKey | 'categories' | 'impression_urls' | 'week_slot' | 'is_ad' | 'extra'>
  return {
    ...scalars,
    is_ad: is_ad ? 1 : 0,
    categories: JSON.stringify(categories),
    impression_urls: JSON.stringify(impression_urls),
    week_slot: JSON.stringify(week_slot),
    extra: JSON.stringify(extra),
    target_lists: JSON.stringify(lists),
    updated_at: now,
  }
}

/** Campaign storage: admin CRUD plus the catalog's read of servable campaigns. */
export function createCampaignRepository(db: Kysely<Database>, clock: () => number) {
  const crud = createSqlResourceRepository<Campaign, number, CampaignDraft>(
    db,
    {
      table: 'campaigns',
      toRow: campaignToRow,
      fromRow: (row) => campaignFromRow(row),
      stamped: true,
      catalog: true,
    },
    clock,
  )
  return {
    ...crud,
    /**
     * Active, unended campaigns in id order, each handed to `take` as its page is read: a large catalog is
     * read in pages so it never blocks the process for long, and never sits in memory as full campaigns
     * (the snapshot keeps less of each; what it drops dies young instead of filling the old heap).
     */
    async eachServableCampaign(now: number, take: (campaign: Campaign) => void): Promise<void> {
      const seen: Shared = new Map()
      for (let after = 0; ; ) {
        const rows = await db
          .selectFrom('campaigns')
          .selectAll()
          .where('status', '=', 'active')
          .where('end_date', '>', now)
          .where('id', '>', after)
          .orderBy('id')
          .limit(SERVABLE_PAGE)
          .execute()
        for (const row of rows) take(campaignFromRow(row, seen))
        if (rows.length < SERVABLE_PAGE) return
        after = num(rows[rows.length - 1]?.id)
        // Let requests run between pages (better-sqlite3 reads synchronously).
        await new Promise((resolve) => setImmediate(resolve))
      }
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

/**
 * How many campaigns hold `value` in a JSON list: the database narrows by the quoted value's text (instr
 * on both dialects), the JSON decides. A scan, which admin deletes can afford.
 */
async function countCampaignsListing(
  db: Kysely<Database>,
  column: 'target_lists' | 'categories',
  value: string,
  listOf: (json: unknown) => unknown,
): Promise<number> {
  const rows = await db
    .selectFrom('campaigns')
    .select(column)
    .where(sql<number>`instr(${sql.ref(column)}, ${JSON.stringify(value)})`, '>', 0)
    .execute()
  return rows.filter((row) => {
    const list = listOf(parseJson<unknown>(row[column], null))
    return Array.isArray(list) && list.includes(value)
  }).length
}

/** Campaigns whose `target_unit` list names the unit. */
export function countCampaignsTargetingUnit(db: Kysely<Database>, unitId: number): Promise<number> {
  return countCampaignsListing(
    db,
    'target_lists',
    String(unitId),
    (lists) => (lists as { target_unit?: unknown } | null)?.target_unit,
  )
}

/** Campaigns listing the category in `categories`. */
export function countCampaignsInCategory(db: Kysely<Database>, categoryId: string): Promise<number> {
  return countCampaignsListing(db, 'categories', categoryId, (list) => list)
}

/** Campaigns of the channel. */
export async function countCampaignsOnChannel(db: Kysely<Database>, channelId: number): Promise<number> {
  const row = await db
    .selectFrom('campaigns')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('channel_id', '=', channelId)
    .executeTakeFirst()
  return num(row?.n ?? 0)
}
