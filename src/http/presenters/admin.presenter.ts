import type { Static } from '@sinclair/typebox'
import type { Campaign, Unit } from '../../domain/catalog.js'
import type { DeviceProfile } from '../../domain/device.js'
import type { CampaignDraft, CampaignInput } from '../../domain/drafts.js'
import type {
  CampaignCreateDto,
  CampaignPatchDto,
  NumericIdParamsSchema,
  PageQuerySchema,
} from '../dto/admin.dto.js'
import { intOf, requiredIdOf } from '../numbers.js'
import { toIso, toIsoOrNull } from './iso-time.js'

const TIME_FIELDS = ['start_date', 'end_date', 'published_at'] as const

/** Admin JSON → domain input: ISO times become epoch ms; everything else already has domain names. */
export function campaignFromDto<T extends CampaignPatchDto>(
  dto: T,
): T extends CampaignCreateDto ? CampaignInput : Partial<CampaignDraft> {
  const out: Record<string, unknown> = { ...dto }
  for (const key of TIME_FIELDS) {
    const value = dto[key]
    if (typeof value === 'string') out[key] = Date.parse(value)
  }
  return out as never
}

/** Domain campaign → admin JSON. */
export function campaignToDto(c: Campaign) {
  return {
    ...c,
    start_date: toIso(c.start_date),
    end_date: toIso(c.end_date),
    published_at: toIsoOrNull(c.published_at),
    created_at: toIso(c.created_at),
    updated_at: toIso(c.updated_at),
  }
}

/** Domain unit → admin JSON. */
export function unitToDto(u: Unit) {
  return { ...u, created_at: toIso(u.created_at), updated_at: toIso(u.updated_at) }
}

/** A device profile → admin JSON. */
export function profileToDto(p: DeviceProfile) {
  return { ...p, updated_at: toIso(p.updated_at) }
}

/** `?limit=&offset=` (plain decimals, checked by the schema, which also fills the defaults) → numbers. */
export function pageOf(query: Static<typeof PageQuerySchema>): { limit: number; offset: number } {
  return { limit: intOf(query.limit) ?? 100, offset: intOf(query.offset) ?? 0 }
}

/** The `:id` of a numeric resource, exactly (a 400 past 2^53 − 1). */
export function numericIdOf(params: Static<typeof NumericIdParamsSchema>): number {
  return requiredIdOf('id', params.id)
}
