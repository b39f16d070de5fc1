/**
 * The event scenarios' catalog and requests: 100 ad campaigns on two bench units seeded through the admin
 * API, devices allocated over HTTP before measuring, and each event request built from an allocated item as
 * a v1 SDK builds it (test/helpers/sdk.ts: the same `check`, the same placeholder substitution).
 */
import { type Device, formBody, type Send, sdk, viaHttp } from '../test/helpers/sdk.js'
import type { V1ItemType } from '../test/helpers/v1-wire.js'

/** Every answer on this unit carries all 100 bench campaigns (page_limit 200): the spread scenarios. */
export const SPREAD_UNIT = 9001
/** Answers on this unit carry the hot campaign (the only bench campaign targeting it): the hot scenarios. */
export const HOT_UNIT = 9002
export const CAMPAIGNS = 100
const DAY = 86_400_000
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** The SDK events measured: the impression beacon, the unlock and the landing. */
export type EventKind = 'beacon' | 'unlock' | 'landing'

/** The seeded campaigns by wire id (ads: id + 1,000,000,000); `hot` is one of them. */
export type EventCatalog = { hot: number; all: Set<number> }

/** One request as autocannon sends it. */
export type Prepared = {
  method: 'GET' | 'POST'
  path: string
  body?: string
  headers?: Record<string, string>
}

/** POSTs `body` to an admin path with the bearer token; the created resource's id (anything but 201 throws). */
export async function admin(
  origin: string,
  token: string,
  path: string,
  body: unknown,
): Promise<{ id: number }> {
  const res = await fetch(`${origin}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as { id: number }
}

/**
 * Two units (no base reward, so every grant is one campaign part; `hour_limit` 1000, the most the admin API
 * takes, so one user's 200 spread grants an hour are never `limited`; no contents) and 100 ad campaigns: no
 * caps, no budget, unlock and landing rewards > 0, all targeting the spread unit, the first (the hot one)
 * also the hot unit, ahead of the demo ads.
 */
export async function seedEventCatalog(origin: string, token: string): Promise<EventCatalog> {
  const unit = { hour_limit: 1000, base_reward: 0, content_type: 'none' }
  await admin(origin, token, '/admin/units', {
    ...unit,
    id: SPREAD_UNIT,
    app_id: SPREAD_UNIT,
    page_limit: 200,
  })
  await admin(origin, token, '/admin/units', { ...unit, id: HOT_UNIT, app_id: HOT_UNIT })
  const now = Date.now()
  const all = new Set<number>()
  for (let i = 0; i < CAMPAIGNS; i++) {
    const { id } = await admin(origin, token, '/admin/campaigns', {
      name: `event bench ${i}`,
      type: (['I', 'J', 'B'] as const)[i % 3],
      start_date: new Date(now - DAY).toISOString(),
      end_date: new Date(now + 30 * DAY).toISOString(),
      title: `Event bench campaign ${i}`,
      image: `https://cdn.example.com/e/${i}.jpg`,
      click_url: `https://example.com/e/${i}?ifa={ifa}`,
      unlock_reward: 1 + (i % 3),
      landing_reward: 1 + (i % 5),
      target_unit: i === 0 ? [String(SPREAD_UNIT), String(HOT_UNIT)] : [String(SPREAD_UNIT)],
      first_display_priority: i === 0 ? 1000 : 0,
    })
    all.add(id + 1_000_000_000)
  }
  return { hot: Math.min(...all), all }
}

/** Devices allocated before measuring, each with the bench items its answer held (same order per device). */
export type DeviceSet = { devices: Device[]; items: V1ItemType[][] }

/** What an event needs of an item (the rest of an answer's item is dropped to keep 100,000 of them small). */
function trim(item: V1ItemType): V1ItemType {
  const { id, type, name, owner_id, is_media, unlock_reward, landing_reward, base_reward, payload } = item
  const kept = { id, type, name, owner_id, is_media, unlock_reward, landing_reward, base_reward, payload }
  // The SDK helpers read only these fields.
  return {
    ...kept,
    click_url: item.click_url,
    impression_urls: item.impression_urls?.slice(0, 1),
  } as V1ItemType
}

/**
 * Allocates `count` new devices (ids from `firstId`) on `unitId`, `concurrency` at a time, spreading them
 * over `origins` in turn; keeps each answer's items whose wire id is in `keep`.
 */
export async function allocateDevices(
  origins: readonly string[],
  unitId: number,
  firstId: number,
  count: number,
  keep: ReadonlySet<number>,
  concurrency = 32,
): Promise<DeviceSet> {
  const set: DeviceSet = { devices: [], items: [] }
  const senders = origins.map((origin) => viaHttp(origin))
  let next = 0
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const id = firstId + i
      const device = {
        device_id: id,
        ifa: `ifa-${id}`,
        unit_device_token: `user-${id}`,
        unit_id: unitId,
        app_id: unitId,
      }
      const res = await sdk(senders[i % senders.length] as Send, device).allocate()
      if (res.statusCode !== 200)
        throw new Error(`allocation for device ${id}: ${res.statusCode} ${res.body}`)
      const items = (res.json().campaigns as V1ItemType[]).filter((item) => keep.has(item.id)).map(trim)
      if (items.length !== keep.size)
        throw new Error(
          `device ${id} got ${items.length} of the ${keep.size} bench campaigns on unit ${unitId}`,
        )
      set.devices[i] = device
      set.items[i] = items
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return set
}

const noSend: Send = () => Promise.reject(new Error('the bench sends through autocannon'))

/**
 * The `index`-th (device, item) pair of a set, device-major across the set: consecutive requests go to
 * different devices and (device d, round r → item (d + r) mod n) different campaigns, and every pair comes
 * once before any repeats (a repeat of an unlock or landing is a duplicate, which the outcomes show).
 */
export function pairAt(set: DeviceSet, index: number): { device: Device; item: V1ItemType } {
  const devices = set.devices.length
  const d = index % devices
  const items = set.items[d] as V1ItemType[]
  const round = Math.floor(index / devices)
  return { device: set.devices[d] as Device, item: items[(d + round) % items.length] as V1ItemType }
}

/** How many distinct pairs a set holds. */
export const pairCount = (set: DeviceSet) => set.devices.length * (set.items[0]?.length ?? 0)

/** The event request an SDK sends for this device and item. */
export function eventRequest(kind: EventKind, device: Device, item: V1ItemType): Prepared {
  const client = sdk(noSend, device)
  if (kind === 'unlock')
    return {
      method: 'POST',
      path: '/api/impression/',
      body: formBody(client.unlockForm(item)),
      headers: FORM,
    }
  if (kind === 'landing') return { method: 'GET', path: client.landingPath(item) }
  // As the SDK's impress(): the first impression URL, its placeholders filled in.
  const url = new URL(item.impression_urls?.[0] ?? '')
  const path = `${url.pathname}${url.search}`
    .replace('__place__', 'lockscreen')
    .replace('__position__', '1')
    .replace('__session_id__', 'session-1')
  return { method: 'GET', path }
}

/** The cold allocation request: the demo unit, a new device. */
export function allocationRequest(body: string): Prepared {
  return { method: 'POST', path: '/api/allocation/', body, headers: FORM }
}

/**
 * What an answer did, as the SDK and the bench can tell: beacons `x-allot-counted`, landings
 * `x-allot-reward`, unlocks `granted` when `reward_received` > 0, allocations `ok`; any other status `HTTP n`.
 */
export function outcomeOf(
  kind: EventKind | 'allocation',
  status: number,
  body: string,
  headers: Record<string, unknown>,
): string {
  const expected = kind === 'landing' ? 302 : 200
  if (status !== expected) return `HTTP ${status}`
  if (kind === 'beacon') return String(headers['x-allot-counted'])
  if (kind === 'landing') return String(headers['x-allot-reward'])
  if (kind === 'unlock')
    return (JSON.parse(body) as { reward_received: number }).reward_received > 0 ? 'granted' : 'reward 0'
  return 'ok'
}

/** The outcome a scenario is after: a grant for unlocks and landings, a counted beacon, a 200 allocation. */
export const goalOf = (kind: EventKind | 'allocation') =>
  kind === 'beacon' ? 'counted' : kind === 'allocation' ? 'ok' : 'granted'
