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
