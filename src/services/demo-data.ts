import type { CampaignInput } from '../domain/drafts.js'
import type { AdminService } from './admin.service.js'

const DAY = 86_400_000
export const DEMO_UNIT_ID = 1001

/** Seeds the demo catalog of the embedded default once: unit 1001 and a mix of ads and contents. */
export async function seedDemoData(admin: AdminService, now: number): Promise<boolean> {
  const existing = await admin.units.list({ limit: 1, offset: 0 })
  if (existing.length > 0) return false

  await admin.units.create({
    id: DEMO_UNIT_ID,
    app_id: 100,
    name: 'Demo lockscreen',
    unit_type: 'lockscreen',
    platform: 'android',
    country: 'KR',
    timezone: 'Asia/Seoul',
  })
  const categories = [
    ['news', '뉴스'],
    ['entertainment', '연예'],
    ['sports', '스포츠'],
    ['lifestyle', '라이프'],
    ['tech', 'IT'],
  ] as const
  for (const [index, [id, name]] of categories.entries()) {
    await admin.categories.create({
      id,
      name,
      icon_url: `https://cdn.example.com/icons/${id}.png`,
      sort_order: index,
    })
  }
  const channels: number[] = []
  for (const [category, name] of [
    ['news', 'Daily Brief'],
    ['news', 'Seoul Now'],
    ['entertainment', 'Star Talk'],
    ['sports', 'Match Day'],
    ['lifestyle', 'Weekend Table'],
    ['tech', 'Gadget Lab'],
  ] as const) {
    const channel = await admin.channels.create({
      category,
      name,
      icon_url: 'https://cdn.example.com/icons/ch.png',
    })
    channels.push(channel.id)
  }

  const window = { start_date: now - DAY, end_date: now + 365 * DAY }
  for (const ad of demoAds(window)) await admin.campaigns.create(ad)
  for (let i = 0; i < 20; i++) {
    const [category] = categories[i % categories.length] ?? ['news']
    await admin.campaigns.create(demoContent(i, category, channels[i % channels.length] ?? null, now, window))
  }
  return true
}

type Window = { start_date: number; end_date: number }

function demoAds(window: Window): CampaignInput[] {
  const ad = (
    n: number,
    fields: Partial<CampaignInput> & Pick<CampaignInput, 'name' | 'type'>,
  ): CampaignInput => ({
    ...window,
    title: fields.name,
    image: `https://cdn.example.com/ads/${n}.jpg`,
    click_url: `https://ads.example.com/landing/${n}`,
    impression_urls: [`https://ads.example.com/imp/${n}`],
    unlock_reward: 1,
    landing_reward: 3,
    ...fields,
  })
  return [
    ad(1, { name: 'Morning coffee coupon', type: 'I', first_display_priority: 10, display_weight: 5 }),
    ad(2, { name: 'Fintech sign-up', type: 'B', action_reward: 100, target_age_min: 20, target_age_max: 39 }),
    ad(3, {
      name: 'Puzzle game install',
      type: 'J',
      target_os_min: 26,
      detarget_app: ['com.example.puzzle'],
    }),
    ad(4, { name: 'Beauty brand week', type: 'I', target_gender: ['F'], target_region: ['서울특별시'] }),
    ad(5, { name: 'Mobile plan switch', type: 'J', target_language: ['ko'], detarget_country: ['JP'] }),
    ad(6, { name: 'Late-night delivery', type: 'I', week_slot: nightSlots() }),
    ad(7, { name: 'Paused brand film', type: 'I', status: 'paused' }),
    ad(8, {
      name: 'Sneaker drop',
      type: 'J',
      first_display_priority: 5,
      target_gender: ['M'],
      display_weight: 3,
    }),
  ]
}

function demoContent(i: number, category: string, channel: number | null, now: number, window: Window) {
  const content: CampaignInput = {
    ...window,
    name: `Story ${i + 1}`,
    type: 'C',
    title: `${category} story #${i + 1}`,
    description: `A ${category} story for the demo lockscreen.`,
    image: `https://cdn.example.com/contents/${i + 1}.jpg`,
    click_url: `https://news.example.com/articles/${i + 1}`,
    categories: [category],
    channel_id: channel,
    published_at: now - i * 3_600_000,
    unlock_reward: i % 4 === 0 ? 1 : 0,
  }
  if (i % 7 === 3) content.target_country = ['KR']
  if (i % 9 === 5) content.target_age_min = 19
  if (i === 17) content.detarget_language = ['en']
  return content
}

/** Every day, 22:00 to 05:59. */
function nightSlots(): number[] {
  const hours = [22, 23, 0, 1, 2, 3, 4, 5]
  return Array.from({ length: 7 }, (_, day) => hours.map((h) => day * 24 + h)).flat()
}
