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
 * One synthetic device, the same for the same id (its attributes come from a PRNG seeded with it): most in
 * Korea, mixed gender, ages, carriers, regions, OS levels and custom targets; about 35 % seen on the day
 * of `now`, 70 % in the last week, the rest in the 30 days before.
 */
export function syntheticDevice(deviceId: number, now: number): SeenDevice {
  const r = seeded(deviceId * 2_654_435_761)
  const pick = <T>(values: readonly T[]) => values[Math.floor(r() * values.length)] as T
  const maybe = <T>(p: number, value: () => T) => (r() < p ? value() : undefined)
  const recency = r()
  const daysAgo = recency < 0.35 ? 0 : recency < 0.7 ? 1 + Math.floor(r() * 6) : 7 + Math.floor(r() * 23)
  const unitId = 1001 + Math.floor(r() ** 2 * 5)
  const country = r() < 0.9 ? 'KR' : pick(['JP', 'US'])
  return {
    deviceId,
    sample: sampleHash(deviceId),
    seenAt: now - daysAgo * DAY - Math.floor(r() * Math.min(3_600_000, now % DAY)),
    unitId,
    appId: unitId - 900,
    country,
    gender: maybe(0.95, () => pick(['M', 'F'])),
    language: maybe(0.95, () => (country === 'KR' && r() < 0.9 ? 'ko' : 'en')),
    carrier: maybe(0.9, () => pick(CARRIERS)),
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

const CARRIERS = ['SKT', 'KT', 'LG U+'].map((c) => normalizeTargetValue('carrier', c))

/** `count` synthetic devices with sequential ids from `firstId` (like an auto increment). */
export function* syntheticDevices(count: number, now: number, firstId = 1_000_000): Generator<SeenDevice> {
  for (let i = 0; i < count; i++) yield syntheticDevice(firstId + i, now)
}

/**
 * A store of `count` synthetic devices that answers listSeen as the adapters do (ascending hash, then id)
 * while holding only their ids (12 bytes each): attributes are made again from the id when read.
 */
export function syntheticSeenStore(count: number, now: number, firstId = 1_000_000) {
  const ids = Float64Array.from({ length: count }, (_, i) => firstId + i)
  const hashes = Uint32Array.from(ids, (id) => sampleHash(id))
  const order = Uint32Array.from({ length: count }, (_, i) => i).sort(
    (a, b) => (hashes[a] as number) - (hashes[b] as number) || (ids[a] as number) - (ids[b] as number),
  )
  return {
    async saveSeen(): Promise<void> {},
    async listSeen(
      since: number,
      after: { sample: number; deviceId: number } | undefined,
      limit: number,
    ): Promise<SeenDevice[]> {
      let lo = 0
      let hi = count
      while (after && lo < hi) {
        const mid = (lo + hi) >> 1
        const i = order[mid] as number
        const h = hashes[i] as number
        if (h < after.sample || (h === after.sample && (ids[i] as number) <= after.deviceId)) lo = mid + 1
        else hi = mid
      }
      const out: SeenDevice[] = []
      for (let k = lo; k < count && out.length < limit; k++) {
        const d = syntheticDevice(ids[order[k] as number] as number, now)
        if (d.seenAt >= since) out.push(d)
      }
      return out
    },
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
