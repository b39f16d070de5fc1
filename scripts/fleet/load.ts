/**
 * The fleet's phones: each a v1 SDK (test/helpers/sdk.ts: the same forms, the same `check`) on one device,
 * sending through nginx what a lockscreen sends: allocations, impression beacons, unlocks, landings (paid at
 * once, or with reward 0 and then a stay reward through `POST /api/rewards`) and installed-apps uploads.
 * Everything an answer told the phone is tallied: statuses, outcomes, the grants it was told about, the
 * capped ad's counted impressions, and per campaign what the delivery report must show.
 */
import { deflateSync } from 'node:zlib'
import { Pool } from 'undici'
import { type Answer, type Device, type Send, sdk } from '../../test/helpers/sdk.js'
import type { V1ItemType } from '../../test/helpers/v1-wire.js'
import type { FleetCatalog } from './catalog.js'

export const KINDS = ['allocation', 'beacon', 'unlock', 'landing', 'stay reward', 'installed apps'] as const
export type Kind = (typeof KINDS)[number]

type KindStats = { statuses: Map<number, number>; outcomes: Map<string, number>; ms: number[] }
/** What the delivery report must show for one campaign (wire id). */
export type Expected = { allocations: number; impressions: number; clicks: number; unlocks: number }

export type Tally = {
  kinds: Map<Kind, KindStats>
  /** 5xx answers and transport errors, described (the first 20). */
  failures: string[]
  failureCount: number
  /** `device:campaign wire id:action` → grants the phones were told about. */
  told: Map<string, number>
  /** device → impressions of the capped ad counted. */
  cappedCounted: Map<number, number>
  expected: Map<number, Expected>
}

type Phone = {
  device: Device
  client: ReturnType<typeof sdk>
  items: V1ItemType[]
  unlocked: Set<number>
  landed: Set<number>
}

/** A landing made with reward 0, waiting for its stay reward: when due, and tries left. */
type Stay = { phone: Phone; item: V1ItemType; due: number; tries: number }

export type Fleet = {
  phones: Phone[]
  tally: Tally
  /**
   * Runs `workers` concurrent phones until `stop()` says so: each takes the next phone in turn for a session
   * of a few SDK calls, or a stay reward that has come due; `first` = one allocation per phone, in order.
   */
  run(workers: number, stop: () => boolean, first?: boolean): Promise<void>
  close(): Promise<void>
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** `devices` phones (ids from `firstId`) talking to `edge` over at most `connections` keep-alive sockets. */
export function createFleet(
  edge: string,
  catalog: FleetCatalog,
  devices: number,
  connections: number,
  firstId = 5_000_000,
): Fleet {
  const pool = new Pool(edge, { connections, keepAliveTimeout: 30_000 })
  const send: Send = async (method, path, form) => {
    const res = await pool.request({
      method,
      path,
      ...(form === undefined ? {} : { headers: FORM, body: form }),
    })
    const body = await res.body.text()
    return {
      statusCode: res.statusCode,
      headers: res.headers as Answer['headers'],
      body,
      json: () => JSON.parse(body),
    }
  }
  const phones: Phone[] = Array.from({ length: devices }, (_, i) => {
    const id = firstId + i
    const device = {
      device_id: id,
      ifa: `ifa-${id}`,
      unit_device_token: `user-${id}`,
      unit_id: catalog.unitId,
      app_id: catalog.unitId,
    }
    return { device, client: sdk(send, device), items: [], unlocked: new Set(), landed: new Set() }
  })
  const tally: Tally = {
    kinds: new Map(KINDS.map((k) => [k, { statuses: new Map(), outcomes: new Map(), ms: [] }])),
    failures: [],
    failureCount: 0,
    told: new Map(),
    cappedCounted: new Map(),
    expected: new Map(
      [...catalog.all].map((id) => [id, { allocations: 0, impressions: 0, clicks: 0, unlocks: 0 }]),
    ),
  }
  const ctx: Ctx = { send, catalog, tally, stays: [] }
  let next = 0
  return {
    phones,
    tally,
    async run(workers, stop, first = false) {
      // The first pass allocates once per phone; after it, stay rewards that came due go first.
      const work = async (): Promise<boolean> => {
        if (first) {
          if (next >= phones.length) return false
          await allocate(ctx, phones[next++] as Phone)
          return true
        }
        const stay = ctx.stays[0]
        if (stay && stay.due <= Date.now()) {
          ctx.stays.shift()
          await stayReward(ctx, stay)
        } else await session(ctx, phones[next++ % phones.length] as Phone)
        return true
      }
      const worker = async () => {
        while (!stop() && (await work())) {}
      }
      await Promise.all(Array.from({ length: workers }, worker))
      next = 0
    },
    close: () => pool.close(),
  }
}

type Ctx = { send: Send; catalog: FleetCatalog; tally: Tally; stays: Stay[] }

/** Sends one request of `kind`, times it and notes its status (a 5xx or a transport error is a failure). */
async function timed(ctx: Ctx, kind: Kind, request: () => Promise<Answer>): Promise<Answer | undefined> {
  const stats = ctx.tally.kinds.get(kind) as KindStats
  const started = performance.now()
  let res: Answer | undefined
  try {
    res = await request()
  } catch (err) {
    fail(ctx, `${kind}: ${(err as Error).message}`)
  }
  stats.ms.push(performance.now() - started)
  const status = res?.statusCode ?? 0
  stats.statuses.set(status, (stats.statuses.get(status) ?? 0) + 1)
  if (res && status >= 500) fail(ctx, `${kind}: ${status} ${res.body.slice(0, 160)}`)
  return res
}

function fail(ctx: Ctx, what: string): void {
  ctx.tally.failureCount++
  if (ctx.tally.failures.length < 20) ctx.tally.failures.push(what)
}

function outcome(ctx: Ctx, kind: Kind, what: string): void {
  const outcomes = (ctx.tally.kinds.get(kind) as KindStats).outcomes
  outcomes.set(what, (outcomes.get(what) ?? 0) + 1)
}

const add = <K>(map: Map<K, number>, key: K, by = 1) => map.set(key, (map.get(key) ?? 0) + by)
const expected = (ctx: Ctx, wireId: number) => ctx.tally.expected.get(wireId) as Expected
const told = (ctx: Ctx, phone: Phone, item: V1ItemType, action: 'u' | 'l') =>
  add(ctx.tally.told, `${phone.device.device_id}:${item.id}:${action}`)

/** A phone in use for a while: two to six SDK calls, one after the other. */
async function session(ctx: Ctx, phone: Phone): Promise<void> {
  const steps = 2 + Math.floor(Math.random() * 5)
  for (let i = 0; i < steps; i++) await step(ctx, phone)
}

/** One SDK call chosen as a lockscreen's traffic mixes them (allocations most, then beacons, then rewards). */
async function step(ctx: Ctx, phone: Phone): Promise<void> {
  const r = Math.random()
  if (phone.items.length === 0 || r < 0.3) return allocate(ctx, phone)
  if (r < 0.58) return beacon(ctx, phone)
  if (r < 0.76) return unlock(ctx, phone)
  if (r < 0.94) return land(ctx, phone)
  return uploadInstalledApps(ctx, phone)
}

async function allocate(ctx: Ctx, phone: Phone): Promise<void> {
  const res = await timed(ctx, 'allocation', () => phone.client.allocate())
  if (res?.statusCode !== 200) return outcome(ctx, 'allocation', `HTTP ${res?.statusCode ?? 'error'}`)
  const items = (res.json().campaigns as V1ItemType[]).filter((c) => ctx.catalog.all.has(c.id))
  for (const item of items) expected(ctx, item.id).allocations++
  outcome(ctx, 'allocation', items.some((c) => c.id === ctx.catalog.capped) ? 'with the capped ad' : 'ok')
  // Keep the capped ad's item once seen: a phone may show it again later, and the cap must hold.
  const capped = phone.items.find((c) => c.id === ctx.catalog.capped)
  phone.items = capped && !items.some((c) => c.id === capped.id) ? [...items, capped] : items
}

/** The impression beacon: half the time the capped ad when the phone holds it, else any item. */
async function beacon(ctx: Ctx, phone: Phone): Promise<void> {
  const capped = phone.items.find((c) => c.id === ctx.catalog.capped)
  const item = capped && Math.random() < 0.5 ? capped : pick(phone.items)
  const res = await timed(ctx, 'beacon', () => phone.client.impress(item))
  if (res?.statusCode !== 200) return outcome(ctx, 'beacon', `HTTP ${res?.statusCode ?? 'error'}`)
  const counted = String(res.headers['x-allot-counted'])
  outcome(ctx, 'beacon', item === capped ? `capped ad: ${counted}` : counted)
  if (counted !== 'counted') return
  expected(ctx, item.id).impressions++
  if (item === capped) add(ctx.tally.cappedCounted, phone.device.device_id)
}

/** An unlock through an item this phone has not unlocked yet in this run (so each is due a grant). */
async function unlock(ctx: Ctx, phone: Phone): Promise<void> {
  const item = phone.items.find((c) => !phone.unlocked.has(c.id) && c.unlock_reward > 0)
  if (!item) return allocate(ctx, phone)
  phone.unlocked.add(item.id)
  const res = await timed(ctx, 'unlock', () => phone.client.unlock(item))
  if (res?.statusCode !== 200) return outcome(ctx, 'unlock', `HTTP ${res?.statusCode ?? 'error'}`)
  expected(ctx, item.id).unlocks++
  const paid = res.json().reward_received > 0
  outcome(ctx, 'unlock', paid ? 'granted' : 'reward 0')
  if (paid) told(ctx, phone, item, 'u')
}

/** A landing on an item not landed on yet: two in three paid at once, the rest by a stay reward later. */
async function land(ctx: Ctx, phone: Phone): Promise<void> {
  const item = phone.items.find((c) => !phone.landed.has(c.id) && c.landing_reward > 0)
  if (!item) return allocate(ctx, phone)
  phone.landed.add(item.id)
  const byStay = Math.random() < 1 / 3
  const claim = byStay ? { reward: 0, base_reward: 0 } : {}
  const res = await timed(ctx, 'landing', () => phone.client.land(item, claim))
  if (res?.statusCode !== 302) return outcome(ctx, 'landing', `HTTP ${res?.statusCode ?? 'error'}`)
  const reward = String(res.headers['x-allot-reward'])
  outcome(ctx, 'landing', byStay ? `stay mode: ${reward}` : reward)
  if (['granted', 'none', 'duplicate'].includes(reward)) expected(ctx, item.id).clicks++
  if (reward === 'granted') told(ctx, phone, item, 'l')
  // The stay reward needs the click in the device's activity, which is written in batches (REPORT_FLUSH_MS).
  if (byStay && reward === 'none') ctx.stays.push({ phone, item, due: Date.now() + 3_000, tries: 3 })
}

/** `POST /api/rewards` after a stay on the landing page (SDK-CONTRACT §9): 200 paid, 409 duplicate, 422 not due. */
async function stayReward(ctx: Ctx, stay: Stay): Promise<void> {
  const { phone, item } = stay
  const res = await timed(ctx, 'stay reward', () => phone.client.stayReward(item))
  outcome(ctx, 'stay reward', `HTTP ${res?.statusCode ?? 'error'}`)
  if (res?.statusCode === 200) told(ctx, phone, item, 'l')
  else if (res?.statusCode === 422 && stay.tries > 1)
    ctx.stays.push({ ...stay, due: Date.now() + 3_000, tries: stay.tries - 1 })
}

const INSTALLED = deflateSync('com.kakao.talk,com.android.chrome,com.example.game').toString('base64')

async function uploadInstalledApps(ctx: Ctx, phone: Phone): Promise<void> {
  const form = new URLSearchParams({
    ifa: phone.device.ifa,
    app_id: String(phone.device.app_id),
    installed_apps: INSTALLED,
  }).toString()
  const res = await timed(ctx, 'installed apps', () => ctx.send('POST', '/api/update_installed_apps/', form))
  outcome(ctx, 'installed apps', `HTTP ${res?.statusCode ?? 'error'}`)
}

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T
