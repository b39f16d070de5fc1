import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto'
import type { Campaign, Unit } from '../domain/catalog.js'
import type { CatalogSnapshot } from '../domain/catalog-snapshot.js'
import { counterKeys, utcDay } from '../domain/counter-keys.js'
import { hasCaps, summarizeActivity, withinCaps } from '../domain/delivery.js'
import type { ActivityItem } from '../domain/device.js'
import { AllotError } from '../domain/errors.js'
import { CAMPAIGN_METRICS, type ReportIncrement } from '../domain/report.js'
import type { RewardAction, RewardGrant } from '../domain/reward.js'
import { isLive, localDate, localHourStart } from '../domain/schedule.js'
import {
  type CheckFields,
  checkSource,
  localCampaignId,
  PAYLOAD_GRACE_MS,
  wireCampaignId,
} from '../domain/sdk-v1.js'
import type { PayloadRead, PayloadReader } from './payload-signer.js'

/** What the ledger recorded for a grant: its total (base part included) and the base part. */
export type RecordedGrant = { transactionId: string; point: number; basePoint: number }

/** The reward ledger + outbox port (SQL): exactly one row per (device, campaign, action, period). */
export type RewardLedger = {
  grant(
    entry: RewardGrant,
    postback:
      | ((grant: RecordedGrant) => { url: string; headers: Record<string, string>; body: string })
      | undefined,
  ): Promise<RecordedGrant | 'duplicate' | 'nothing' | 'limited'>
}

/** Activity recording and the device's current activity (the device cache). */
export type EventDevices = {
  load(deviceId: number, unitId: number, now: number): Promise<{ activity: readonly ActivityItem[] }>
  /** The device's activity as every process sees it now (the shared level or the store, not this process's copy). */
  freshActivity(deviceId: number): Promise<readonly ActivityItem[]>
  recordActivity(deviceId: number, item: ActivityItem): Promise<void>
}

/** A lock on one device shared by every process (Redis in production); absent = one process. */
export type DeviceLock = { run<T>(deviceId: number, work: () => Promise<T>): Promise<T> }

/** Counters (CTR, budgets); increments return the new value, so a budget can be checked exactly. */
export type EventCounters = { increment(key: string, by: number, ttlSeconds?: number): Promise<number> }

/** Delivery report counters (durable): impressions, clicks and unlocks count as they happen. */
export type EventReports = { add(increments: readonly ReportIncrement[]): Promise<void> }

type Deps = {
  catalog: { current(): CatalogSnapshot }
  /** Campaigns no longer in the servable snapshot (ended within the payload grace, paused). */
  campaigns: { get(id: number): Promise<Campaign | undefined> }
  payloads: PayloadReader
  devices: EventDevices
  counters: EventCounters
  reports?: EventReports | undefined
  ledger: RewardLedger
  /** Makes a cap check and its impression one step across processes (capped campaigns only). */
  deviceLock?: DeviceLock | undefined
  clock: () => number
  dailyCounterTtlSeconds: number
  /** Called after a reward with a postback was written, so the worker can send it at once. */
  onPostback?: () => void
  /** Told when a best-effort step failed (a report counter not written); the event stands. */
  onDegraded?: (what: string, err: unknown) => void
}

/**
 * What v1 hashes into `check` plus the reward it claims (SDK-CONTRACT §7.2): values as the SDK sent them,
 * integers parsed. `campaign_id` is the wire id (ads: + 1,000,000,000).
 */
export type RewardClaim = Omit<CheckFields, 'app_id'> & {
  /** app_id as sent; v1 retries the check with the unit id in its place. */
  app_id: number | undefined
  check: string
}

/** `POST /api/impression/` and `POST /api/unlock` (SDK-CONTRACT §8), parsed. */
export type UnlockRequest = RewardClaim & { unit_id: number | undefined; payload: string }

/** `GET /api/click_redirect/` (SDK-CONTRACT §5.2), parsed. */
export type LandingRequest = RewardClaim & {
  unit_id: number
  payload: string
  /** The token the allocation knew (the check may use it when the client's own failed). */
  allocation_unit_device_token: string
  external_campaign_id: string | undefined
  redirect_url: string | undefined
  use_clean_mode: boolean
  false_click: boolean
}

/** `POST /api/rewards` (SDK-CONTRACT §9): a landing reward after a stay, without a payload. */
export type StayRewardRequest = RewardClaim & {
  unit_id: number
  allocation_unit_device_token: string
}

export type LandingOutcome = 'granted' | 'duplicate' | 'limited' | 'none' | 'budget' | 'payload' | 'external'
export type ImpressionOutcome = 'counted' | 'cap' | 'budget' | 'expired'

export type EventService = ReturnType<typeof createEventService>

/**
 * Unlocks, landings, stay rewards and impressions of the v1 SDK: the check is verified as the SDK computes
 * it, the payload must be Allot's (binding device, unit and campaign) or a legacy one in the cut-over
 * window, amounts are what the campaign and unit are configured for and never more than the SDK claims,
 * and the ledger grants each once.
 */
export function createEventService(deps: Deps) {
  const { clock } = deps
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

  let byIdFor: CatalogSnapshot | undefined
  let byId = new Map<number, Campaign>()
  /** A local campaign by id: the snapshot's, else the store's (ended or paused ones). */
  async function campaignById(id: number): Promise<Campaign | undefined> {
    const snapshot = deps.catalog.current()
    if (byIdFor !== snapshot) {
      byId = new Map([...snapshot.ads, ...snapshot.contents].map((e) => [e.campaign.id, e.campaign]))
      byIdFor = snapshot
    }
    return byId.get(id) ?? (await deps.campaigns.get(id))
  }

  /** The local campaign behind a wire id (ads: id + 1,000,000,000); undefined for anything else. */
  async function findCampaign(wireId: number): Promise<Campaign | undefined> {
    const local = localCampaignId(wireId)
    const campaign = local && (await campaignById(local.id))
    return campaign && campaign.is_ad === local?.isAd ? campaign : undefined
  }

  /** The unit of an event; v1 answers 400 for an unknown or inactive one. */
  function activeUnit(unitId: number): Unit {
    const unit = deps.catalog.current().units.get(unitId)
    if (!unit?.is_active) throw new AllotError('InvalidField', `unit_id ${unitId} is unknown or inactive`)
    return unit
  }

  /** Whether an Allot payload was minted for this device, unit and campaign (legacy ones bind nothing). */
  function bound(read: PayloadRead, deviceId: number, unitId: number, campaign: Campaign): boolean {
    if (read.kind === 'legacy') return true
    const { claims } = read
    return claims.d === deviceId && claims.u === unitId && claims.c === campaign.id
  }

  /** Adds one to the campaign's report counters on the unit's local day (and to its budget spend). */
  async function report(unitId: number, c: Campaign, metric: string, now: number): Promise<void> {
    if (!deps.reports) return
    const timezone = deps.catalog.current().units.get(unitId)?.timezone ?? 'UTC'
    const count = {
      kind: 'campaign' as const,
      unitId,
      campaignId: c.id,
      day: localDate(timezone, now),
      by: 1,
    }
    const budgeted =
      (metric === CAMPAIGN_METRICS.impressions && c.budget_type === 'impression') ||
      (metric === CAMPAIGN_METRICS.clicks && c.budget_type === 'click')
    // A report counter that cannot be written must not fail the event it counts.
    await deps.reports
      .add([{ ...count, metric }, ...(budgeted ? [{ ...count, metric: CAMPAIGN_METRICS.budgetSpent }] : [])])
      .catch((err) => deps.onDegraded?.('delivery report counters', err))
  }

  /** An unlock with nothing to pay (no reward claimed, or expired) through an item minted for this device. */
  async function countUnpaidUnlock(read: PayloadRead, deviceId: number, now: number): Promise<void> {
    if (read.kind !== 'allot' || read.claims.d !== deviceId) return
    const campaign = await campaignById(read.claims.c)
    if (campaign) await report(read.claims.u, campaign, CAMPAIGN_METRICS.unlocks, now)
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

  /**
   * Grants the campaign's configured reward for `action`, never more than claimed: the campaign part
   * (claimed reward minus claimed base) and the unit's base part (once per device, unit and period).
   */
  async function grant(
    action: RewardAction,
    claim: RewardClaim,
    unit: Unit,
    campaign: Campaign,
    now: number,
  ): Promise<RecordedGrant | 'duplicate' | 'nothing' | 'limited'> {
    if (!isLive(campaign, now)) return 'nothing'
    const configured =
      action === 'u' ? (campaign.is_ad ? campaign.unlock_reward : 0) : campaign.landing_reward
    const point = Math.max(0, Math.min(configured, claim.reward - claim.base_reward))
    const basePoint = Math.max(0, Math.min(unit.base_reward, claim.base_reward))
    const entry: RewardGrant = {
      transaction_id: randomBytes(16).toString('hex'),
      device_id: claim.device_id,
      unit_id: unit.id,
      campaign_id: campaign.id,
      action_type: action,
      period: slotHour(unit, now),
      point,
      base: basePoint > 0 ? { period: basePeriod(unit, now), point: basePoint } : undefined,
      user_id: claim.unit_device_token,
      limits: { hour: unit.hour_limit, baseHour: unit.base_hour_limit },
      created_at: now,
      report_day: localDate(unit.timezone, now),
    }
    const postback = unit.postback_url
      ? (recorded: RecordedGrant) => postbackDraft(unit, campaign, claim.unit_device_token, entry, recorded)
      : undefined
    const result = await deps.ledger.grant(entry, postback)
    if (typeof result === 'object' && postback) deps.onPostback?.()
    return result
  }

  return {
    /** An unlock through an item (SDK-CONTRACT §8): the points granted, 0 for a duplicate or nothing due. */
    async unlock(request: UnlockRequest): Promise<number> {
      const now = clock()
      const read = deps.payloads.read(request.payload, now)
      if (!read)
        throw new AllotError('InvalidPayload', 'click_campaign_payload is not a payload Allot can read')
      const unitId = request.unit_id ?? (read.kind === 'allot' ? read.claims.u : read.unitId)
      if (unitId === undefined) throw new AllotError('InvalidField', 'app_id & unit_id not found')
      if (request.reward === 0) {
        await countUnpaidUnlock(read, request.device_id, now)
        return 0
      }
      const campaign = await findCampaign(request.campaign_id)
      if (expired(read, campaign, now)) {
        await countUnpaidUnlock(read, request.device_id, now)
        return 0
      }
      const claim = { ...request, base_reward: request.base_reward || request.reward }
      if (!checkMatches(request, unitId, [request.unit_device_token]))
        throw new AllotError('InvalidCheck', 'check does not match the unlock fields')
      const unit = activeUnit(unitId)
      if (!campaign || !bound(read, request.device_id, unit.id, campaign))
        throw new AllotError(
          'InvalidPayload',
          'click_campaign_payload was issued for another device, unit or campaign',
        )
      await report(unit.id, campaign, CAMPAIGN_METRICS.unlocks, now)
      const result = await grant('u', claim, unit, campaign, now)
      return typeof result === 'object' ? result.point : 0
    },

    /**
     * A landing (SDK-CONTRACT §5.2): where to send the user, after counting the click and granting the
     * landing reward once. The destination is always the campaign's own URL, never the query's.
     */
    async landing(request: LandingRequest): Promise<{ location: string; outcome: LandingOutcome }> {
      const now = clock()
      const tokens = [request.unit_device_token, request.allocation_unit_device_token]
      if (!checkMatches(request, request.unit_id, tokens))
        throw new AllotError('InvalidCheck', 'check does not match the click fields')
      if (request.unit_device_token === '')
        throw new AllotError('InvalidField', 'unit_device_token must not be empty')
      const unit = activeUnit(request.unit_id)
      if (request.external_campaign_id)
        return { location: webUrl('redirect_url', request.redirect_url ?? ''), outcome: 'external' }
      const campaign = await findCampaign(request.campaign_id)
      if (!campaign)
        throw new AllotError('InvalidField', `campaign_id ${request.campaign_id} is not a campaign`)
      const target = request.use_clean_mode && campaign.clean_link ? campaign.clean_link : campaign.click_url
      const location = webUrl(
        'the campaign click_url',
        target.replaceAll('{ifa}', encodeURIComponent(request.ifa)),
      )
      const read = deps.payloads.read(request.payload, now)
      if (!read || !bound(read, request.device_id, unit.id, campaign)) return { location, outcome: 'payload' }
      if (!request.false_click) {
        if (!(await countDelivery(campaign, 'click', now))) return { location, outcome: 'budget' }
        await deps.devices.recordActivity(request.device_id, {
          type: 'click',
          campaign_id: campaign.id,
          at: now,
        })
        await report(unit.id, campaign, CAMPAIGN_METRICS.clicks, now)
      }
      if (expired(read, campaign, now) || request.reward <= 0) return { location, outcome: 'none' }
      const result = await grant('l', request, unit, campaign, now)
      return {
        location,
        outcome: typeof result === 'object' ? 'granted' : result === 'nothing' ? 'none' : result,
      }
    },

    /**
     * A landing reward after the user stayed on the page (SDK-CONTRACT §9, `POST /api/rewards`). It has no
     * payload, so Allot also requires a click of this device on this campaign recorded by a landing.
     */
    async stayReward(request: StayRewardRequest): Promise<void> {
      const now = clock()
      const tokens = [request.unit_device_token, request.allocation_unit_device_token]
      if (!checkMatches(request, request.unit_id, tokens))
        throw new AllotError('InvalidCheck', 'check does not match the reward fields')
      const unit = activeUnit(request.unit_id)
      if (request.reward === 0) return
      const campaign = await findCampaign(request.campaign_id)
      if (!campaign)
        throw new AllotError('Unprocessable', `campaign_id ${request.campaign_id} is not a campaign`)
      const { activity } = await deps.devices.load(request.device_id, unit.id, now)
      if (!summarizeActivity(activity, now).clicked.has(campaign.id))
        throw new AllotError(
          'Unprocessable',
          `device_id ${request.device_id} has no landing on this campaign`,
        )
      const result = await grant('l', request, unit, campaign, now)
      if (result === 'duplicate')
        throw new AllotError('DuplicateReward', 'this landing reward was already granted')
      if (result === 'nothing') throw new AllotError('Unprocessable', 'nothing is due for this landing')
      if (result === 'limited')
        throw new AllotError('Unprocessable', "the user reached the unit's hourly reward limit (hour_limit)")
    },

    /** The content impression beacon (SDK-CONTRACT §6): counted against caps and budgets, then recorded. */
    async impression(data: string): Promise<ImpressionOutcome> {
      const now = clock()
      const read = deps.payloads.read(data, now)
      if (read?.kind !== 'allot')
        throw new AllotError('InvalidPayload', 'data is not an impression Allot issued')
      const { claims } = read
      const campaign = await campaignById(claims.c)
      if (!campaign) throw new AllotError('InvalidPayload', 'data names no campaign')
      if (expired(read, campaign, now)) return 'expired'
      const count = async (): Promise<ImpressionOutcome> => {
        // Across processes, a capped campaign's check must see every process's impressions.
        const activity = shared
          ? await deps.devices.freshActivity(claims.d)
          : (await deps.devices.load(claims.d, claims.u, now)).activity
        if (!withinCaps(campaign, summarizeActivity(activity, now))) return 'cap'
        if (!(await countDelivery(campaign, 'impression', now))) return 'budget'
        await deps.devices.recordActivity(claims.d, { type: 'impression', campaign_id: campaign.id, at: now })
        return 'counted'
      }
      const shared = hasCaps(campaign) && deps.deviceLock !== undefined
      const outcome = await serialized(claims.d, () =>
        shared && deps.deviceLock ? deps.deviceLock.run(claims.d, count) : count(),
      )
      if (outcome === 'counted') await report(claims.u, campaign, CAMPAIGN_METRICS.impressions, now)
      return outcome
    },
  }
}

/** v1's expiry: a payload is good until its campaign's end + 7 days (a legacy one carries its own end). */
function expired(read: PayloadRead, campaign: Campaign | undefined, now: number): boolean {
  if (read.kind === 'legacy') return read.expired
  return campaign !== undefined && campaign.end_date + PAYLOAD_GRACE_MS <= now
}

const md5 = (text: string) => createHash('md5').update(text).digest('hex')

/**
 * v1's check validation: the MD5 of the fields, also with spaces as `+` (an iOS encoding bug), also
 * lower-cased; tried with app_id as sent, then with the unit id as app_id, then with each other token.
 */
function checkMatches(claim: RewardClaim, unitId: number, tokens: readonly string[]): boolean {
  // v1 refuses a check over an empty campaign name.
  if (claim.campaign_name === '') return false
  const given = claim.check
  const lower = given.toLowerCase()
  const appIds = claim.app_id === undefined ? [unitId] : [claim.app_id, unitId]
  for (const token of tokens) {
    for (const app_id of appIds) {
      const source = checkSource({ ...claim, app_id, unit_device_token: token })
      for (const hash of [md5(source), md5(source.replaceAll(' ', '+'))])
        if (given === hash || lower === hash) return true
    }
  }
  return false
}

/** An absolute http(s) URL as a Location header can carry it (percent-encoded), or a 400. */
function webUrl(what: string, value: string): string {
  try {
    const url = new URL(value)
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.href
  } catch {}
  throw new AllotError('InvalidField', `${what} is not an http(s) URL`)
}

/** The unit-local slot hour of an instant (its start, epoch ms): the period of unlock and landing rewards. */
function slotHour(unit: Unit, at: number): string {
  return `h${localHourStart(unit.timezone, at)}`
}

/** Fixed base-reward windows of `base_init_period` seconds from the epoch. */
function basePeriod(unit: Unit, at: number): string {
  return `b${Math.floor(at / 1000 / Math.max(1, unit.base_init_period))}`
}

/** An ad's revenue type for the publisher (SDK-CONTRACT §13); contents have none. */
function revenueType(c: Campaign): string | null {
  if (!c.is_ad) return null
  return c.revenue_type ?? (c.type === 'B' ? 'cpa' : 'cpe')
}

/**
 * The publisher postback (SDK-CONTRACT §13): one per grant, `point` the total with `base_point` in it,
 * form-encoded; `data` (all fields as JSON, AES-CBC with the unit's key and IV, base64) when the unit has a
 * key; `x-allot-signature` (HMAC-SHA256 of the body) when it has an HMAC key.
 */
function postbackDraft(
  unit: Unit,
  campaign: Campaign,
  userId: string,
  entry: RewardGrant,
  recorded: RecordedGrant,
) {
  const fields = {
    transaction_id: recorded.transactionId,
    user_id: userId,
    unit_id: unit.id,
    campaign_id: wireCampaignId(campaign.id, campaign.is_ad),
    campaign_name: campaign.name,
    event_at: Math.floor(entry.created_at / 1000),
    is_media: campaign.owner_id !== null && campaign.owner_id === unit.owner_id ? 1 : 0,
    extra: JSON.stringify(campaign.extra),
    action_type: entry.action_type,
    point: recorded.point,
    base_point: recorded.basePoint,
    revenue_type: revenueType(campaign),
    click_type: entry.action_type,
  }
  const form = new URLSearchParams()
  for (const [key, value] of Object.entries(fields)) if (value !== null) form.append(key, String(value))
  if (unit.postback_aes_key && unit.postback_aes_iv) {
    const key = Buffer.from(unit.postback_aes_key)
    const cipher = createCipheriv(`aes-${key.length * 8}-cbc`, key, Buffer.from(unit.postback_aes_iv))
    const plain = Buffer.from(JSON.stringify(fields))
    form.append('data', Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64'))
  }
  const body = form.toString()
  const headers: Record<string, string> = {
    ...unit.postback_headers,
    'content-type': 'application/x-www-form-urlencoded',
  }
  if (unit.postback_hmac_key)
    headers['x-allot-signature'] = createHmac('sha256', unit.postback_hmac_key).update(body).digest('hex')
  return { url: unit.postback_url ?? '', headers, body }
}
