/** Reward actions as the v1 reward service names them: unlock, landing. */
export type RewardAction = 'u' | 'l'

/**
 * One grant the ledger records: the campaign part, and the unit's base part when one may be due in its
 * period. The ledger pays the campaign part at most once per device, campaign, action and period, the base
 * part at most once per device, unit and period.
 */
export type RewardGrant = {
  transaction_id: string
  device_id: number
  unit_id: number
  campaign_id: number
  action_type: RewardAction
  /** The campaign part's period. */
  period: string
  /** The campaign part. */
  point: number
  /** The base part and its period. */
  base: { period: string; point: number } | undefined
  /** The publisher's user, and how many grants (and base parts) it may get per hour (0 = no limit). */
  user_id: string
  limits: { hour: number; baseHour: number }
  created_at: number
  /** The unit-local day the ledger counts the grant on in delivery reports. */
  report_day: string
}

/** What the ledger recorded for a grant: its transaction id, its total (base part included) and the base part. */
export type RecordedGrant = { transactionId: string; point: number; basePoint: number }

/** A grant's postback, built once the grant's amounts are known. */
export type PostbackDraft = { url: string; headers: Record<string, string>; body: string }

/**
 * A grant's outcome: recorded; 'duplicate' when the ledger already has its (device, campaign, action, period);
 * 'nothing' when neither part is left to pay; 'limited' past the user's grants this hour.
 */
export type GrantOutcome = RecordedGrant | 'duplicate' | 'nothing' | 'limited'

/**
 * What an event claims (docs/architecture.md §W8, §W5.2): the total, and the base part inside it (0 when not
 * sent).
 */
export type ClaimedReward = { reward: number; base_reward: number }

/**
 * The split Allot pays for one event: the campaign part it is configured for and the base part the item
 * carried, never more in all than claimed. A claimed base part is taken at its word (capped by the item's);
 * a base part of 0 or none may be one of the legacy SDKs that send `base_reward=0` with a total that
 * includes it (v1's workaround, docs/architecture.md §W8), so the campaign part is paid first and the base
 * part from what is left of the total.
 */
export function rewardSplit(
  configured: number,
  itemBase: number,
  claim: ClaimedReward,
): { point: number; basePoint: number } {
  const total = Math.max(0, claim.reward)
  if (claim.base_reward > 0) {
    const point = clamp(configured, total - claim.base_reward)
    return { point, basePoint: clamp(itemBase, Math.min(claim.base_reward, total - point)) }
  }
  const point = clamp(configured, total)
  return { point, basePoint: clamp(itemBase, total - point) }
}

const clamp = (configured: number, claimed: number) => Math.max(0, Math.min(configured, claimed))
