import type { Targeting } from '../../src/domain/catalog.js'
import { type SeenDevice, sampleHash } from '../../src/domain/reach.js'
import { normalizeTargetValue } from '../../src/domain/targeting.js'

const DAY = 86_400_000

/** A small seeded PRNG (mulberry32): the same population every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

const PROVINCES = [
  '서울특별시',
  '경기도',
  '부산광역시',
  '인천광역시',
  '대구광역시',
  '광주광역시',
  '대전광역시',
  '강원도',
]
const DISTRICTS = ['중구', '동구', '서구', '남구', '북구', '관악구']

/**
 * `count` synthetic devices seen in the 30 days before `now` (ids `firstId`…, sequential like an auto
 * increment): most in Korea, mixed gender, ages, carriers, regions, OS levels, custom targets; about 35 %
 * seen today, 70 % in the last week.
 */
export function* syntheticDevices(
  count: number,
  now: number,
  seed = 1,
  firstId = 1_000_000,
): Generator<SeenDevice> {
  const r = seeded(seed)
  const pick = <T>(values: readonly T[]) => values[Math.floor(r() * values.length)] as T
  const maybe = <T>(p: number, value: () => T) => (r() < p ? value() : undefined)
  const carriers = ['SKT', 'KT', 'LG U+'].map((c) => normalizeTargetValue('carrier', c))
  for (let i = 0; i < count; i++) {
    const deviceId = firstId + i
    const recency = r()
    const daysAgo = recency < 0.35 ? 0 : recency < 0.7 ? 1 + Math.floor(r() * 6) : 7 + Math.floor(r() * 23)
    const unitId = 1001 + Math.floor(r() ** 2 * 5)
    const country = r() < 0.9 ? 'KR' : pick(['JP', 'US'])
    yield {
      deviceId,
      sample: sampleHash(deviceId),
      seenAt: now - daysAgo * DAY - Math.floor(r() * 3_600_000),
      unitId,
      appId: unitId - 900,
      country,
      gender: maybe(0.95, () => pick(['M', 'F'])),
      language: maybe(0.95, () => (country === 'KR' && r() < 0.9 ? 'ko' : 'en')),
      carrier: maybe(0.9, () => pick(carriers)),
      region: maybe(0.9, () => `${pick(PROVINCES)} ${pick(DISTRICTS)}`),
      yearOfBirth: maybe(0.9, () => 1950 + Math.floor(r() * 62)),
      os: 21 + Math.floor(r() * 14),
      sdk: pick([1400, 2100, 3000, 30005]),
      registeredAt: now - Math.floor(r() * 400) * DAY,
      customTargets: [
        maybe(0.3, () => pick(['gold', 'silver', 'vip,gold'])),
        undefined,
        maybe(0.1, () => 'beta'),
      ],
    }
  }
}

/** Targeting drafts from broad (about half of the devices) to narrow (about 1 %). */
export const REACH_DRAFTS: { name: string; targeting: Partial<Targeting> }[] = [
  { name: 'women', targeting: { target_gender: ['F'] } },
  { name: 'Seoul, Korean', targeting: { target_region: ['서울특별시'], target_language: ['ko'] } },
  { name: 'not Seoul, Android ≥ 30', targeting: { detarget_region: ['서울특별시'], target_os_min: 30 } },
  { name: 'men in their 20s', targeting: { target_gender: ['M'], target_age_min: 20, target_age_max: 29 } },
  { name: 'Japan', targeting: { target_country: ['JP'] } },
  { name: 'VIPs on KT', targeting: { custom_target_1: ['vip'], target_carrier: ['KT'] } },
  {
    name: '60+ in Busan, registered ≥ 30 days',
    targeting: { target_age_min: 60, target_region: ['부산광역시'], registered_days_min: 30 },
  },
]
