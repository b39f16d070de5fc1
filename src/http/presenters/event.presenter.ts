import { AllotError } from '../../domain/errors.js'
import type { Postback } from '../../domain/postback.js'
import { PLACEHOLDER_CAMPAIGN_ID } from '../../domain/sdk-v1.js'
import type {
  LandingRequest,
  RewardClaim,
  StayRewardRequest,
  UnlockRequest,
} from '../../services/event.service.js'
import type { ClickQueryDto, StayRewardRequestDto, UnlockRequestDto } from '../dto/event.dto.js'
import { integerOf, intOf, optionalIdOf, requiredIdOf } from '../numbers.js'
import { toIso } from './iso-time.js'

/** The client's own token when it substituted one, else the one the allocation knew (v1's GetUDT). */
function clientToken(client: string | undefined, allocation: string | undefined): string {
  return client && client !== '__unit_device_token__' ? client : (allocation ?? '')
}

const campaignIdOf = (text: string | undefined) => {
  const id = intOf(text)
  if (id !== undefined && !Number.isSafeInteger(id))
    throw new AllotError('InvalidField', 'campaign_id must be an integer below 2^53')
  return id || PLACEHOLDER_CAMPAIGN_ID
}

/** The claim's fields as the wire names them (the click query and the rewards form use these names). */
type ClaimText = {
  app_id?: string | undefined
  device_id: string
  ifa: string
  campaign_id?: string | undefined
  campaign_type?: string | undefined
  campaign_name?: string | undefined
  campaign_owner_id?: string | undefined
  campaign_is_media?: string | undefined
  slot?: string | undefined
  reward?: string | undefined
  base_reward?: string | undefined
  check?: string | undefined
}

/**
 * The claim of an event: its fields read one by one, the user token chosen by the caller. Each request adds
 * its own fields with Object.assign: on Node 20, `{ ...claim, more }` costs about a microsecond per property
 * after the spread (14 µs for an unlock's; bench note in docs/benchmarks.md), Object.assign a tenth of one.
 */
function claimOf(f: ClaimText, unitDeviceToken: string): RewardClaim {
  return {
    app_id: optionalIdOf('app_id', f.app_id),
    device_id: requiredIdOf('device_id', f.device_id),
    ifa: f.ifa,
    unit_device_token: unitDeviceToken,
    campaign_id: campaignIdOf(f.campaign_id),
    campaign_type: f.campaign_type ?? '',
    campaign_name: f.campaign_name ?? '',
    campaign_owner_id: f.campaign_owner_id ?? '',
    campaign_is_media: String(intOf(f.campaign_is_media) ?? 0),
    slot: intOf(f.slot) ?? 0,
    reward: intOf(f.reward) ?? 0,
    base_reward: intOf(f.base_reward) ?? 0,
    check: f.check ?? '',
  }
}

/** The unlock form → the service's request; `click_type` other than `u` is a 400 (v1). */
export function unlockRequestFromDto(dto: UnlockRequestDto): UnlockRequest {
  if (dto.click_type !== 'u') throw new AllotError('InvalidField', "click_type must be 'u' (an unlock)")
  return Object.assign(
    claimOf(
      {
        app_id: dto.app_id,
        device_id: dto.device_id,
        ifa: dto.ifa,
        campaign_id: dto.click_campaign_id,
        campaign_type: dto.click_campaign_type,
        campaign_name: dto.click_campaign_name,
        campaign_owner_id: dto.click_campaign_owner_id,
        campaign_is_media: dto.click_campaign_is_media,
        slot: dto.slot,
        reward: dto.reward,
        base_reward: dto.base_reward,
        check: dto.check,
      },
      dto.unit_device_token,
    ),
    {
      unit_id: optionalIdOf('unit_id', dto.unit_id),
      payload: dto.click_campaign_payload ?? '',
    },
  )
}

/** The click query → the service's request. */
export function landingRequestFromDto(dto: ClickQueryDto): LandingRequest {
  return Object.assign(claimOf(dto, clientToken(dto.client_unit_device_token, dto.unit_device_token)), {
    unit_id: requiredIdOf('unit_id', dto.unit_id),
    allocation_unit_device_token: dto.unit_device_token ?? '',
    payload: dto.campaign_payload ?? '',
    external_campaign_id: dto.external_campaign_id,
    redirect_url: dto.redirect_url,
    // Free text on the wire: an integer above 0 turns clean mode on, anything else leaves it off.
    use_clean_mode: (integerOf(dto.use_clean_mode ?? '') ?? 0) > 0,
    false_click: dto.false_click === '1',
  })
}

/** The rewards form → the service's request; the unit is unit_id, else app_id (v1's lockscreen fallback). */
export function stayRewardRequestFromDto(dto: StayRewardRequestDto): StayRewardRequest {
  const claim = claimOf(dto, clientToken(dto.client_unit_device_token, dto.unit_device_token))
  return Object.assign(claim, {
    unit_id: optionalIdOf('unit_id', dto.unit_id) ?? (claim.app_id as number),
    allocation_unit_device_token: dto.unit_device_token,
  })
}

/** An outbox row as the admin API lists it, without its headers. */
export type PostbackView = Omit<Postback, 'headers'>

/** An outbox row → admin JSON. */
export function postbackToDto(p: PostbackView) {
  return {
    ...p,
    next_attempt_at: toIso(p.next_attempt_at),
    created_at: toIso(p.created_at),
    updated_at: toIso(p.updated_at),
  }
}
