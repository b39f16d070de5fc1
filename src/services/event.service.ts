import { createHmac } from 'node:crypto'
import type { Campaign, Unit } from '../domain/catalog.js'
import { counterKeys, utcDay } from '../domain/counter-keys.js'
import { summarizeActivity, withinCaps } from '../domain/delivery.js'
import type { ActivityItem } from '../domain/device.js'
import { AllotError } from '../domain/errors.js'
import { localHourStart } from '../domain/schedule.js'
import type { CatalogSnapshot } from './catalog.service.js'
import type { PayloadClaims, PayloadSigner } from './payload-signer.js'

/** Reward actions: unlock, landing, action (advertiser-confirmed), and the unit's base reward. */
export type RewardAction = 'u' | 'l' | 'a' | 'b'

export type RewardGrant = {
  device_id: number
  unit_id: number
  /** 0 for the base reward: once per device and period whichever campaign unlocked. */
  campaign_id: number
  source_campaign_id: number
  action_type: RewardAction
  period: string
  point: number
  base_point: number
  created_at: number
}

/** The reward ledger + outbox port (SQL): exactly one row per (device, campaign, action, period). */
export type RewardLedger = {
  grant(
    entry: RewardGrant,
    postback:
      | ((transactionId: number) => { url: string; headers: Record<string, string>; body: string })
      | undefined,
  ): Promise<{ transactionId: number } | 'duplicate'>
}

/** Activity recording and the device's current activity (the device cache). */
export type EventDevices = {
  load(deviceId: number, unitId: number, now: number): Promise<{ activity: readonly ActivityItem[] }>
  recordActivity(deviceId: number, item: ActivityItem): Promise<void>
}

/** Counters (CTR, budgets); increments return the new value, so a budget can be checked exactly. */
export type EventCounters = { increment(key: string, by: number, ttlSeconds?: number): Promise<number> }

type Deps = {
  catalog: { current(): CatalogSnapshot }
  /** Campaigns no longer in the servable snapshot (ended within the payload grace). */
  campaigns: { get(id: number): Promise<Campaign | undefined> }
  signer: PayloadSigner
  devices: EventDevices
  counters: EventCounters
  ledger: RewardLedger
  clock: () => number
  dailyCounterTtlSeconds: number
  /** Called after a reward with a postback was written, so the worker can send it at once. */
  onPostback?: () => void
}

/** What the SDK sends with an event: the item's payload and who it claims to be. */
export type EventRequest = {
  payload: string
  device_id: number
  unit_id: number
  campaign_id: number
}

export type GrantedReward = { transaction_id: number; action_type: RewardAction; point: number }

export type EventService = ReturnType<typeof createEventService>

/**
 * Impressions, unlocks and landings (DESIGN §3): verify the payload, enforce caps and budgets exactly,
 * record activity and counters, and grant each reward once through the ledger.
 */
export function createEventService(deps: Deps) {
  const { signer, clock } = deps
  const locks = new Map<number, Promise<unknown>>()

  /** Runs `work` after every earlier event of this device in this process (caps are check-then-record). */
  function serialized<T>(deviceId: number, work: () => Promise<T>): Promise<T> {
    const previous = locks.get(deviceId) ?? Promise.resolve()
    const run = previous.then(work, work)
    const tail = run.catch(() => {})
    locks.set(deviceId, tail)
    tail.then(() => {
      if (locks.get(deviceId) === tail) locks.delete(deviceId)
    })
    return run
  }

  async function verified(request: EventRequest, now: number) {
    const claims = signer.verify(request.payload, now)
    if (!claims) throw new AllotError('InvalidPayload', 'payload is forged, tampered with or expired')
    for (const [field, claimed] of [
      ['device_id', claims.d],
      ['unit_id', claims.u],
      ['campaign_id', claims.c],
    ] as const) {
      if (request[field] !== claimed)
        throw new AllotError(
          'InvalidPayload',
          `payload was issued for another ${field} than ${request[field]}`,
        )
    }
    const unit = deps.catalog.current().units.get(claims.u)
    if (!unit) throw new AllotError('UnitNotFound', `unit_id ${claims.u} does not exist`)
    const campaign = await findCampaign(claims.c)
    if (!campaign) throw new AllotError('ResourceNotFound', `campaign_id ${claims.c} does not exist`)
    return { claims, unit, campaign }
  }

  let byIdFor: CatalogSnapshot | undefined
  let byId = new Map<number, Campaign>()
  async function findCampaign(id: number): Promise<Campaign | undefined> {
    const snapshot = deps.catalog.current()
    if (byIdFor !== snapshot) {
      byId = new Map([...snapshot.ads, ...snapshot.contents].map((e) => [e.campaign.id, e.campaign]))
      byIdFor = snapshot
    }
    return byId.get(id) ?? deps.campaigns.get(id)
  }

  /** Counts one delivery of a campaign; false (and nothing counted) when that would exceed its budget. */
  async function countDelivery(c: Campaign, kind: 'impression' | 'click', now: number): Promise<boolean> {
    const day = utcDay(now)
    const total = kind === 'click' ? counterKeys.clicks(c.id) : counterKeys.impressions(c.id)
    const daily =
      kind === 'click' ? counterKeys.dailyClicks(c.id, day) : counterKeys.dailyImpressions(c.id, day)
    const budgeted = c.budget_type === kind
    const t = await deps.counters.increment(total, 1)
    if (budgeted && c.budget_total !== null && t > c.budget_total) {
      await deps.counters.increment(total, -1)
      return false
    }
    const d = await deps.counters.increment(daily, 1, deps.dailyCounterTtlSeconds)
    if (budgeted && c.budget_daily !== null && d > c.budget_daily) {
      await Promise.all([deps.counters.increment(daily, -1), deps.counters.increment(total, -1)])
      return false
    }
    return true
  }

  async function grant(
    action: RewardAction,
    claims: PayloadClaims,
    unit: Unit,
    campaign: Campaign,
    now: number,
  ): Promise<GrantedReward | 'duplicate' | undefined> {
    const point = action === 'u' ? claims.r.u : action === 'l' ? claims.r.l : action === 'a' ? claims.r.a : 0
    const basePoint = action === 'b' ? claims.r.b : 0
    if (point <= 0 && basePoint <= 0) return undefined
    const entry: RewardGrant = {
      device_id: claims.d,
      unit_id: unit.id,
      campaign_id: action === 'b' ? 0 : campaign.id,
      source_campaign_id: campaign.id,
      action_type: action,
      period: action === 'b' ? basePeriod(unit, now) : slotHour(unit, now),
      point,
      base_point: basePoint,
      created_at: now,
    }
    const postback = unit.postback_url
      ? (transactionId: number) => postbackDraft(unit, campaign, claims, entry, transactionId)
      : undefined
    const result = await deps.ledger.grant(entry, postback)
    if (result === 'duplicate') return 'duplicate'
    if (postback) deps.onPostback?.()
    return { transaction_id: result.transactionId, action_type: action, point: point + basePoint }
  }

  return {
    /** An impression of an allocated item: counted against caps and budgets, recorded as activity. */
    async impression(request: EventRequest): Promise<{ counted: true }> {
      const now = clock()
      const { claims, unit, campaign } = await verified(request, now)
      return serialized(claims.d, async () => {
        const { activity } = await deps.devices.load(claims.d, unit.id, now)
        if (!withinCaps(campaign, summarizeActivity(activity, now)))
          throw new AllotError(
            'CapReached',
            `campaign_id ${campaign.id} reached its per-device cap (ipu/dipu/tipu)`,
          )
        if (!(await countDelivery(campaign, 'impression', now)))
          throw new AllotError('BudgetExhausted', `campaign_id ${campaign.id} has no impression budget left`)
        await deps.devices.recordActivity(claims.d, { type: 'impression', campaign_id: campaign.id, at: now })
        return { counted: true as const }
      })
    },

    /** An unlock through an item: its unlock reward (once per slot hour) and the unit's base reward. */
    async unlock(request: EventRequest): Promise<{ rewards: GrantedReward[] }> {
      const now = clock()
      const { claims, unit, campaign } = await verified(request, now)
      const results = await Promise.all([
        grant('u', claims, unit, campaign, now),
        grant('b', claims, unit, campaign, now),
      ])
      const rewards = results.filter((r): r is GrantedReward => typeof r === 'object')
      if (rewards.length === 0 && results.includes('duplicate'))
        throw new AllotError(
          'DuplicateReward',
          `the unlock reward of campaign_id ${campaign.id} was already granted`,
        )
      return { rewards }
    },

    /** A landing: records the click, grants the landing reward once per slot hour, says where to go. */
    async click(
      request: EventRequest,
    ): Promise<{ location: string; reward: GrantedReward | 'duplicate' | 'none' | 'budget' }> {
      const now = clock()
      const { claims, unit, campaign } = await verified(request, now)
      const counted = await countDelivery(campaign, 'click', now)
      if (!counted) return { location: campaign.click_url, reward: 'budget' }
      await deps.devices.recordActivity(claims.d, { type: 'click', campaign_id: campaign.id, at: now })
      const reward = await grant('l', claims, unit, campaign, now)
      return { location: campaign.click_url, reward: reward ?? 'none' }
    },
  }
}

/** The unit-local slot hour of an instant (its start, epoch ms): the period of unlock and landing rewards. */
function slotHour(unit: Unit, at: number): string {
  return `h${localHourStart(unit.timezone, at)}`
}

/** Fixed base-reward windows of `base_init_period` seconds from the epoch, per unit. */
function basePeriod(unit: Unit, at: number): string {
  return `${unit.id}:${Math.floor(at / 1000 / Math.max(1, unit.base_init_period))}`
}

/** Actions as publishers know them: the base reward arrives with an unlock. */
const POSTBACK_ACTION: Record<RewardAction, string> = { u: 'u', l: 'l', a: 'a', b: 'u' }
const REVENUE_TYPE: Record<string, string> = { I: 'cpm', J: 'cpc', B: 'cpa', C: 'none' }

function postbackDraft(
  unit: Unit,
  campaign: Campaign,
  claims: PayloadClaims,
  entry: RewardGrant,
  id: number,
) {
  const body = new URLSearchParams({
    transaction_id: String(id),
    user_id: claims.t ?? '',
    unit_id: String(unit.id),
    campaign_id: String(campaign.id),
    campaign_name: campaign.name,
    event_at: String(Math.floor(entry.created_at / 1000)),
    is_media: campaign.is_ad ? '0' : '1',
    action_type: POSTBACK_ACTION[entry.action_type],
    point: String(entry.point),
    base_point: String(entry.base_point),
    revenue_type: REVENUE_TYPE[campaign.type] ?? 'none',
  }).toString()
  const headers: Record<string, string> = {
    ...unit.postback_headers,
    'content-type': 'application/x-www-form-urlencoded',
  }
  if (unit.postback_hmac_key)
    headers['x-allot-signature'] = createHmac('sha256', unit.postback_hmac_key).update(body).digest('hex')
  return { url: unit.postback_url ?? '', headers, body }
}
