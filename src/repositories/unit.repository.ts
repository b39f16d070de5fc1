import type { Kysely } from 'kysely'
import type { Unit, UnitSupply } from '../domain/catalog.js'
import type { UnitDraft } from '../domain/drafts.js'
import type { Database, UnitsTable } from '../infra/database/schema.js'
import { countCampaignsTargetingUnit } from './campaign.repository.js'
import {
  createSqlResourceRepository,
  num,
  numOrNull,
  parseJson,
  type Reference,
} from './sql-resource.repository.js'

type Row = Omit<UnitsTable, 'id'> & { id: number }

/** The one place a unit row becomes a domain unit. */
function unitFromRow(raw: Record<string, unknown>): Unit {
  const row = raw as Row
  return {
    id: num(row.id),
    app_id: num(row.app_id),
    name: row.name,
    unit_type: row.unit_type,
    platform: row.platform,
    country: row.country,
    timezone: row.timezone,
    is_active: Boolean(num(row.is_active)),
    first_display_ratio: row.first_display_ratio,
    page_display_ratio: row.page_display_ratio,
    page_limit: num(row.page_limit),
    shuffle_option: num(row.shuffle_option),
    request_trigger: num(row.request_trigger),
    request_period: num(row.request_period),
    base_reward: num(row.base_reward),
    base_init_period: num(row.base_init_period),
    postback_url: row.postback_url,
    postback_hmac_key: row.postback_hmac_key,
    postback_headers: parseJson(row.postback_headers, {}),
    filtered_providers: parseJson(row.filtered_providers, []),
    ad_sources: parseJson(row.ad_sources, []),
    owner_id: numOrNull(row.owner_id),
    hour_limit: num(row.hour_limit),
    base_hour_limit: num(row.base_hour_limit),
    ad_type: row.ad_type as UnitSupply,
    content_type: row.content_type as UnitSupply,
    supports_cardview: Boolean(num(row.supports_cardview)),
    postback_aes_key: row.postback_aes_key,
    postback_aes_iv: row.postback_aes_iv,
    created_at: num(row.created_at),
    updated_at: num(row.updated_at),
  }
}

/** The one place a unit draft becomes a row (without id and created_at). */
export function unitToRow(draft: UnitDraft, now: number): Omit<Row, 'id' | 'created_at'> {
  return {
    ...draft,
    is_active: draft.is_active ? 1 : 0,
    supports_cardview: draft.supports_cardview ? 1 : 0,
    postback_headers: JSON.stringify(draft.postback_headers),
    filtered_providers: JSON.stringify(draft.filtered_providers),
    ad_sources: JSON.stringify(draft.ad_sources),
    updated_at: now,
  }
}

/** Rows that name the unit: campaigns targeting it, its rewards, postbacks and device registrations. */
async function unitReferences(db: Kysely<Database>, unitId: number): Promise<Reference[]> {
  const count = async (table: 'reward_ledger' | 'device_registrations' | 'postback_outbox') => {
    const row = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as('n'))
      .where('unit_id', '=', unitId)
      .executeTakeFirst()
    return num(row?.n ?? 0)
  }
  return [
    {
      count: await countCampaignsTargetingUnit(db, unitId),
      one: 'campaign (target_unit)',
      many: 'campaigns (target_unit)',
    },
    { count: await count('reward_ledger'), one: 'reward ledger row', many: 'reward ledger rows' },
    { count: await count('device_registrations'), one: 'device registration', many: 'device registrations' },
    { count: await count('postback_outbox'), one: 'postback outbox row', many: 'postback outbox rows' },
  ]
}

/** Unit storage: admin CRUD; the catalog reads every unit with `all()`. */
export function createUnitRepository(db: Kysely<Database>, clock: () => number) {
  return createSqlResourceRepository<Unit, number, UnitDraft>(
    db,
    {
      table: 'units',
      toRow: unitToRow,
      fromRow: unitFromRow,
      stamped: true,
      catalog: true,
      references: unitReferences,
    },
    clock,
  )
}
