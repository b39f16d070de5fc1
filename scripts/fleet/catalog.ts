import { admin } from '../../bench/event-setup.js'

/**
 * The fleet's catalog, seeded through the admin API of one instance (admin paths do not pass the edge): one
 * unit whose grants are postbacked to the local receiver, plain ads with unlock and landing rewards, and one
 * ad that is capped (one impression per device, ever) and budgeted (a total of impressions) and ranked first.
 */
const DAY = 86_400_000
const FLEET_UNIT = 9101
const PLAIN_ADS = 20

export type FleetCatalog = {
  unitId: number
  /** Wire id (local id + 1,000,000,000) of the capped and budgeted ad. */
  capped: number
  /** Its total impression budget and its per-device total cap. */
  budget: number
  tipu: number
  /** Every ad's wire id. */
  all: Set<number>
}

/**
 * The unit has no base reward (so each grant is one ledger row and one postback) and the highest
 * `hour_limit`, so a user's grants are never `limited`; it serves no contents (small answers).
 */
export async function seedFleetCatalog(
  origin: string,
  token: string,
  postbackUrl: string,
  budget: number,
): Promise<FleetCatalog> {
  await admin(origin, token, '/admin/units', {
    id: FLEET_UNIT,
    app_id: FLEET_UNIT,
    hour_limit: 1000,
    base_reward: 0,
    content_type: 'none',
    postback_url: postbackUrl,
  })
  const now = Date.now()
  const ad = (i: number) => ({
    name: `fleet ad ${i}`,
    type: (['I', 'J', 'B'] as const)[i % 3],
    start_date: new Date(now - DAY).toISOString(),
    end_date: new Date(now + 30 * DAY).toISOString(),
    title: `Fleet ad ${i}`,
    image: `https://cdn.example.com/fleet/${i}.jpg`,
    click_url: `https://example.com/fleet/${i}?ifa={ifa}`,
    unlock_reward: 1 + (i % 3),
    landing_reward: 1 + (i % 5),
    target_unit: [String(FLEET_UNIT)],
  })
  const tipu = 1
  const capped = await admin(origin, token, '/admin/campaigns', {
    ...ad(0),
    name: 'fleet capped and budgeted',
    first_display_priority: 1000,
    tipu,
    budget_type: 'impression',
    budget_total: budget,
  })
  const all = new Set([capped.id + 1_000_000_000])
  for (let i = 1; i <= PLAIN_ADS; i++)
    all.add((await admin(origin, token, '/admin/campaigns', ad(i))).id + 1_000_000_000)
  return { unitId: FLEET_UNIT, capped: capped.id + 1_000_000_000, budget, tipu, all }
}
