import { parseDatabaseUrl } from '../src/config/config.js'
import { type CampaignInput, campaignDraft, unitDraft } from '../src/domain/drafts.js'
import { openDatabase } from '../src/infra/database/database.js'
import { migrateToLatest } from '../src/infra/database/migrator.js'
import { campaignToRow } from '../src/repositories/campaign.repository.js'
import { unitToRow } from '../src/repositories/unit.repository.js'

export const COUNTRIES = ['KR', 'JP', 'US', 'TW', 'VN', 'TH', 'ID', 'PH', 'MY', 'SG']
export const UNITS = 100
const DAY = 86_400_000

/**
 * A synthetic catalog of `total` active campaigns (20 % contents) over units 1001..1100, shaped like a
 * real one: most campaigns are narrowly targeted (60 % to one unit, 35 % to one country), 5 % run
 * everywhere; on top, a mix of gender, age, OS, language, week_slot, caps and budgets.
 */
/** The mix of rules on top of the scope: gender, age, OS, language, week_slot, a cap and a budget. */
function addRules(input: CampaignInput, random: () => number, pick: <T>(items: readonly T[]) => T): void {
  if (random() < 0.3) input.target_gender = [pick(['M', 'F'])]
  if (random() < 0.3) {
    input.target_age_min = 18 + Math.floor(random() * 20)
    input.target_age_max = (input.target_age_min ?? 18) + 10 + Math.floor(random() * 30)
  }
  if (random() < 0.2) input.target_os_min = 24 + Math.floor(random() * 8)
  if (random() < 0.2) input.target_language = [pick(['ko', 'ja', 'en'])]
  if (random() < 0.1) input.week_slot = Array.from({ length: 84 }, (_, h) => h * 2)
  if (random() < 0.2) input.dipu = 1 + Math.floor(random() * 5)
  if (random() < 0.1) {
    input.budget_type = pick(['impression', 'click'] as const)
    input.budget_daily = 1000 + Math.floor(random() * 100_000)
  }
}

export async function seedSyntheticCatalog(databaseUrl: string, total: number): Promise<void> {
  const database = openDatabase(parseDatabaseUrl(databaseUrl, 4))
  const now = Date.now()
  let seed = 12345
  const random = () => {
    seed = (seed * 48271) % 2147483647
    return seed / 2147483647
  }
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  try {
    await migrateToLatest(database.db)
    const units = Array.from({ length: UNITS }, (_, i) => ({
      ...unitToRow(unitDraft({ app_id: 100 + i, country: pick(COUNTRIES) }), now),
      id: 1001 + i,
      created_at: now,
    }))
    await database.db.insertInto('units').values(units).execute()
    const rows: (ReturnType<typeof campaignToRow> & { id: number; created_at: number })[] = []
    for (let i = 0; i < total; i++) {
      const isContent = random() < 0.2
      const scope = random()
      const input: CampaignInput = {
        name: `synthetic ${i}`,
        type: isContent ? 'C' : pick(['I', 'J', 'B'] as const),
        start_date: now - DAY,
        end_date: now + 30 * DAY,
        title: `Synthetic campaign number ${i}`,
        image: `https://cdn.example.com/s/${i}.jpg`,
        click_url: `https://example.com/c/${i}`,
        display_weight: 1 + Math.floor(random() * 10),
        first_display_priority: Math.floor(random() * 3),
        categories: isContent ? [pick(['news', 'sports', 'tech', 'lifestyle', 'entertainment'])] : [],
        published_at: now - Math.floor(random() * 48) * 3_600_000,
        unlock_reward: Math.floor(random() * 3),
        landing_reward: Math.floor(random() * 5),
      }
      if (scope < 0.6) input.target_unit = [String(1001 + Math.floor(random() * UNITS))]
      else if (scope < 0.95) input.target_country = [pick(COUNTRIES)]
      addRules(input, random, pick)
      rows.push({ ...campaignToRow(campaignDraft(input), now), id: i + 1, created_at: now })
    }
    // Kysely builds one statement per chunk (SQLite caps bound variables per statement); one transaction.
    await database.db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += 200) {
        await trx
          .insertInto('campaigns')
          .values(rows.slice(i, i + 200))
          .execute()
      }
    })
  } finally {
    await database.close()
  }
}
