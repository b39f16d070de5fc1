import type { CampaignInput } from '../domain/drafts.js'
import { LANDING_TYPES } from '../domain/sdk-v1.js'
import type { AdminService } from '../services/admin.service.js'

const DAY = 86_400_000
const DEMO_UNIT_ID = 1001
const DEMO_APP_ID = 100
/** The demo publisher: campaigns it owns are its own ("media", is_media true). */
const DEMO_PUBLISHER_ID = 77

/** Seeds the demo catalog of the embedded default once: unit 1001 and a mix of ads and contents. */
export async function seedDemoData(admin: AdminService, now: number): Promise<boolean> {
  const existing = await admin.units.list({ limit: 1, offset: 0 })
  if (existing.length > 0) return false

  await admin.units.create({
    id: DEMO_UNIT_ID,
    app_id: DEMO_APP_ID,
    name: 'Demo lockscreen',
    unit_type: 'lockscreen',
    platform: 'android',
    country: 'KR',
    timezone: 'Asia/Seoul',
    owner_id: DEMO_PUBLISHER_ID,
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
  const channels: { id: number; category: string }[] = []
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
    channels.push({ id: channel.id, category })
  }

  const window = { start_date: now - DAY, end_date: now + 365 * DAY }
  for (const ad of demoAds(window)) await admin.campaigns.create(ad)
  for (let i = 0; i < 20; i++) {
    const [category] = categories[i % categories.length] ?? ['news']
    // A story's channel is one of its category's channels.
    const ofCategory = channels.filter((c) => c.category === category)
    const channel = ofCategory[Math.floor(i / categories.length) % ofCategory.length]?.id ?? null
    await admin.campaigns.create(demoContent(i, category, channel, now, window))
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
    click_url: `https://ads.example.com/landing/${n}?ifa={ifa}`,
    impression_urls: [`https://ads.example.com/imp/${n}`],
    unlock_reward: 1,
    landing_reward: 3,
    owner_id: 500 + n,
    extra: { creative_set: `demo-${n}` },
    ...fields,
  })
  return [
    ad(1, { name: 'Morning coffee coupon', type: 'I', first_display_priority: 10, display_weight: 5 }),
    ad(2, {
      name: 'Fintech sign-up',
      type: 'B',
      action_reward: 100,
      target_age_min: 20,
      target_age_max: 39,
      revenue_type: 'cpa',
    }),
    ad(3, {
      name: 'Puzzle game install',
      type: 'J',
      target_os_min: 26,
      detarget_app: ['com.example.puzzle'],
    }),
    ad(4, { name: 'Beauty brand week', type: 'I', target_gender: ['F'], target_region: ['서울특별시'] }),
    ad(5, { name: 'Mobile plan switch', type: 'J', target_language: ['ko'], detarget_country: ['JP'] }),
    ad(6, {
      name: 'Late-night delivery',
      type: 'I',
      week_slot: nightSlots(),
      landing_type: LANDING_TYPES.overlay,
    }),
    ad(9, {
      name: '우리 동네 마트 쿠폰',
      type: 'I',
      click_url: 'https://ads.example.com/쿠폰/동네 마트?ifa={ifa}',
      clean_link: 'https://m.ads.example.com/쿠폰',
      owner_id: DEMO_PUBLISHER_ID,
      revenue_type: 'cpe',
    }),
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
    landing_reward: i % 4 === 0 ? 1 : 0,
    clean_link: i % 3 === 0 ? `https://news.example.com/amp/${i + 1}` : '',
    clean_mode: i % 3 === 0 ? 1 : 0,
    owner_id: i % 5 === 0 ? DEMO_PUBLISHER_ID : 900,
    landing_type: i % 10 === 9 ? LANDING_TYPES.youtube : LANDING_TYPES.browser,
    extra: i % 2 === 0 ? { section: category } : {},
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
