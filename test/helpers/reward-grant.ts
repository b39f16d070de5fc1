import type { RewardGrant } from '../../src/domain/reward.js'

/**
 * A grant as the event service hands it to the ledger: an unlock of 5 points plus a base part of 2, no hourly
 * limits, on 2026-11-25; `fields` names what the test is about (device, unit, campaign, …).
 */
export function rewardGrant(
  fields: Pick<RewardGrant, 'transaction_id' | 'device_id' | 'unit_id' | 'campaign_id'> &
    Partial<RewardGrant>,
): RewardGrant {
  return {
    action_type: 'u',
    period: '2026-11-25',
    point: 5,
    base: { period: '2026-11-25', point: 2 },
    user_id: `user-${fields.device_id}`,
    limits: { hour: 0, baseHour: 0 },
    created_at: Date.UTC(2026, 10, 25, 3),
    report_day: '2026-11-25',
    ...fields,
  }
}
