import { createCipheriv, createHmac, hash, randomUUID } from 'node:crypto'
import { spendsBudget } from '../domain/budget.js'
import type { ServedCampaign, Unit } from '../domain/catalog.js'
import type { CatalogSnapshot } from '../domain/catalog-snapshot.js'
import { hasCaps, summarizeActivity, withinCaps } from '../domain/delivery.js'
import type { ActivityItem } from '../domain/device.js'
import { AllotError, DependencyUnavailable } from '../domain/errors.js'
import type { PayloadRead, PayloadReader } from '../domain/payload-signer.js'
import { CAMPAIGN_METRICS, type ReportIncrement } from '../domain/report.js'
import {
  type GrantOutcome,
  type RecordedGrant,
  type RewardAction,
  type RewardGrant,
  rewardSplit,
} from '../domain/reward.js'
import { isLive, localDate, localHourStart } from '../domain/schedule.js'
import {
  adBaseWithheld,
  type CheckFields,
  checkSource,
  localCampaignId,
  PAYLOAD_GRACE_MS,
  wireCampaignId,
} from '../domain/sdk-v1.js'
import { counterKeys, utcDay } from '../lib/counter-keys.js'
import type { CampaignLookup } from './ports/catalog.ports.js'
import type { DeviceLock } from './ports/devices.ports.js'
import type { RewardLedger } from './ports/events.ports.js'

/** Activity recording and the device's current activity (the device cache). */
export type EventDevices = {
  load(deviceId: number, unitId: number, now: number): Promise<{ activity: readonly ActivityItem[] }>
  /** The device's activity in its store of record (never a cache) with what this process has not written yet. */
  freshActivity(deviceId: number): Promise<readonly ActivityItem[]>
  /**
   * `options.now`: written to the store before this resolves (a capped campaign's impression). `options.quiet`:
   * the other processes keep their copies of the device (the shared copy and the store get the item).
   */
  recordActivity(
    deviceId: number,
    item: ActivityItem,
    options?: { now?: boolean; quiet?: boolean },
  ): Promise<void>
}

/** Delivery counters (CTR, pacing): counted in memory at once, written in batches (the counter mirror). */
export type EventCounters = { add(key: string, by: number, ttlSeconds?: number): void }

/** Budgets spent from leased slices (budget-leases.service.ts): 'budget' when a pool has nothing left. */
export type EventBudgets = {
  spend(c: ServedCampaign, kind: 'impression' | 'click'): Promise<'ok' | 'budget'>
}

/** Whether an event is seen for the first time in its period (once-guard.service.ts). */
export type EventOnce = { first(key: string, ttlMs: number): Promise<boolean> }

/** Delivery report counters: impressions, clicks and unlocks, tallied in memory and written in batches. */
export type EventReports = { add(increments: readonly ReportIncrement[]): void }

type Deps = {
  catalog: { current(): CatalogSnapshot }
  /** Campaigns no longer in the servable snapshot (ended within the payload grace, paused). */
  campaigns: CampaignLookup
  payloads: PayloadReader
  devices: EventDevices
  counters: EventCounters
  budgets: EventBudgets
  once: EventOnce
  reports?: EventReports | undefined
  ledger: RewardLedger
  /** Makes a cap check and its impression one step across processes (capped campaigns only). */
  deviceLock?: DeviceLock | undefined
  clock: () => number
  dailyCounterTtlSeconds: number
  /** Called after a reward with a postback was written, so the worker can send it at once. */
  onPostback?: () => void
  /** A landing's click that failed after its answer was sent (logged; the landing was answered). */
  onDegraded?: (what: string, err: unknown) => void
}

/**
 * How long a landing's click may wait to be counted, when nothing in the landing's answer depends on it: the
 * clicks of that window are counted together, so their Redis commands leave in one write instead of one write
 * per few landings (on a VM a loopback write is a costly system call). Report reads, stay rewards and
 * shutdown count the waiting clicks first. Each batch costs about 0.3 ms of CPU whatever its size (two
 * script calls and their replies, a timer); with 10 ms, two instances at 1,000 landings/s each paid it every
 * ~10 clicks, about 0.03 ms per landing (docs/benchmarks.md, "The click's batches on two instances").
 */
const CLICK_BATCH_MS = 50

/**
 * What v1 hashes into `check` plus the reward it claims (docs/architecture.md §W7.2): values as the SDK sent
 * them, integers parsed. `campaign_id` is the wire id (ads: + 1,000,000,000).
 */
export type RewardClaim = Omit<CheckFields, 'app_id'> & {
  /** app_id as sent; v1 retries the check with the unit id in its place. */
  app_id: number | undefined
  check: string
}

/** `POST /api/impression/` and `POST /api/unlock` (docs/architecture.md §W8), parsed. */
export type UnlockRequest = RewardClaim & { unit_id: number | undefined; payload: string }

/** `GET /api/click_redirect/` (docs/architecture.md §W5.2), parsed. */
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

/** `POST /api/rewards` (docs/architecture.md §W9): a landing reward after a stay, without a payload. */
export type StayRewardRequest = RewardClaim & {
  unit_id: number
  allocation_unit_device_token: string
}

/**
 * What a landing did (the `x-allot-reward` header): `granted`, `duplicate`, `limited` (the user's hourly
 * grants, or the device's event rate), `none` (nothing claimed or due), `budget` (click budget spent),
 * `payload` (not minted for this click), `inactive` (campaign paused or ended, or unit inactive), `expired`
 * (payload past its campaign's end + 7 days), `external` (a legacy link inside the cut-over window).
 */
export type LandingOutcome =
  | 'granted'
  | 'duplicate'
  | 'limited'
  | 'none'
  | 'budget'
  | 'payload'
  | 'inactive'
  | 'expired'
  | 'external'

/**
 * What an impression beacon did (the `x-allot-counted` header): `counted`, `cap`, `budget`, `expired`,
 * `inactive` (campaign paused or ended, or unit inactive), `limited` (the device's event rate) or
 * `unavailable` (another process held the device's cap check past the wait).
 */
export type ImpressionOutcome =
  | 'counted'
  | 'cap'
  | 'budget'
  | 'expired'
  | 'inactive'
  | 'limited'
  | 'unavailable'

/** How an event arrived: `limited` when its device is over its event rate (answered, never counted or paid). */
export type EventContext = { limited?: boolean | undefined }

export type EventService = ReturnType<typeof createEventService>

/**
 * Unlocks, landings, stay rewards and impressions of the v1 SDK: the check is verified as the SDK computes
 * it, the payload must be Allot's (binding device, unit and campaign) or a legacy one in the cut-over
 * window, amounts are what the campaign and unit are configured for and never more than the SDK claims,
 * and the ledger grants each once. Only events through an active unit, a live campaign and an unexpired
 * payload count toward caps, budgets and delivery reports; the others are reported as `ineligible`.
 */
export function createEventService(deps: Deps) {
  const ctx = eventContext(deps)
  return {
    /** The device an impression beacon's `data` was minted for; undefined when it is not Allot's. */
    beaconDevice(data: string): number | undefined {
      const read = deps.payloads.read(data, deps.clock())
      return read?.kind === 'allot' ? read.claims.d : undefined
    },
    /**
     * An unlock through an item (docs/architecture.md §W8): the points granted, 0 for a duplicate or nothing
     * due.
     */
    unlock: (request: UnlockRequest) => unlock(ctx, request),
    /** A landing (docs/architecture.md §W5.2): where to send the user, and what was counted and paid. */
    landing: (request: LandingRequest, context: EventContext = {}) => landing(ctx, request, context),
    /** A landing reward after a stay on the page (docs/architecture.md §W9). */
    stayReward: (request: StayRewardRequest) => stayReward(ctx, request),
    /** The content impression beacon (docs/architecture.md §W6). */
    impression: (data: string, context: EventContext = {}) => impression(ctx, data, context),
    /** Counts the landings' clicks still waiting for their batch (a report read does this first). */
    settleClicks: (): Promise<void> => ctx.clicks.settle(),
    /** Counts the waiting clicks, and every later one at once (shutdown). */
    stop: (): Promise<void> => ctx.clicks.stop(),
  }
}

/** What the use cases below share: the dependencies, and this process's per-device order and campaign index. */
type Ctx = Deps & {
  /** Runs `work` after every earlier event of this device in this process (caps are check-then-record). */
  serialized<T>(deviceId: number, work: () => Promise<T>): Promise<T>
  /** A local campaign by id: the snapshot's, else the store's (ended or paused ones). */
  campaignById(id: number): Promise<ServedCampaign | undefined>
  /** Landings' clicks counted in batches, after their answers (CLICK_BATCH_MS). */
  clicks: Batches
}

type Batches = {
  later(work: () => unknown): void
  settle(): Promise<void>
  stop(): Promise<void>
}

/**
 * Work queued now and started together within `ms` (one timer per batch, none while idle), or at once by
 * `settle`; after `stop` each piece starts as it comes. A piece that fails is reported, never retried.
 */
function batches(ms: number, onError: (err: unknown) => void): Batches {
  let queued: (() => unknown)[] = []
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  const running = new Set<Promise<void>>()
  function run(): void {
    clearTimeout(timer)
    timer = undefined
    const batch = queued
    queued = []
    for (const work of batch) {
      const started = Promise.resolve()
        .then(work)
        .then(() => {}, onError)
      running.add(started)
      started.then(() => running.delete(started))
    }
  }
  const settle = async () => {
    run()
    await Promise.all(running)
  }
  return {
    later(work) {
      queued.push(work)
      if (stopped) run()
      else if (timer === undefined) {
        timer = setTimeout(run, ms)
        timer.unref()
      }
    },
    settle,
    stop() {
      stopped = true
      return settle()
    },
  }
}

function eventContext(deps: Deps): Ctx {
  const locks = new Map<number, Promise<unknown>>()
  let byIdFor: CatalogSnapshot | undefined
  let byId = new Map<number, ServedCampaign>()
  return {
    ...deps,
    clicks: batches(CLICK_BATCH_MS, (err) => deps.onDegraded?.("a landing's click", err)),
    serialized<T>(deviceId: number, work: () => Promise<T>): Promise<T> {
      const previous = locks.get(deviceId) ?? Promise.resolve()
      const run = previous.then(work, work)
      const tail = run.catch(() => {})
      locks.set(deviceId, tail)
      tail.then(() => {
        if (locks.get(deviceId) === tail) locks.delete(deviceId)
      })
      return run
    },
    async campaignById(id) {
      const snapshot = deps.catalog.current()
      if (byIdFor !== snapshot) {
        byId = new Map([...snapshot.ads, ...snapshot.contents].map((e) => [e.campaign.id, e.campaign]))
        byIdFor = snapshot
      }
      return byId.get(id) ?? (await deps.campaigns.get(id))
    },
  }
}

/**
 * An unlock through an item (docs/architecture.md §W8): the points granted, 0 for a duplicate or nothing due.
 */
async function unlock(ctx: Ctx, request: UnlockRequest): Promise<number> {
  const now = ctx.clock()
  const read = ctx.payloads.read(request.payload, now)
  if (!read) throw new AllotError('InvalidPayload', 'click_campaign_payload is not a payload Allot can read')
  const unitId = request.unit_id ?? (read.kind === 'allot' ? read.claims.u : read.unitId)
  if (unitId === undefined) throw new AllotError('InvalidField', 'app_id & unit_id not found')
  if (request.reward === 0) {
    await countUnpaidUnlock(ctx, read, request.device_id, now)
    return 0
  }
  const campaign = await findCampaign(ctx, request.campaign_id)
  if (expired(read, campaign, now)) {
    await countUnpaidUnlock(ctx, read, request.device_id, now)
    return 0
  }
  if (!checkMatches(request, unitId, [request.unit_device_token]))
    throw new AllotError('InvalidCheck', 'check does not match the unlock fields')
  const unit = activeUnit(ctx, unitId)
  if (!campaign || !bound(read, request.device_id, unit.id, campaign))
    throw new AllotError(
      'InvalidPayload',
      'click_campaign_payload was issued for another device, unit or campaign',
    )
  if (!isLive(campaign, now)) {
    report(ctx, unit.id, campaign, CAMPAIGN_METRICS.ineligible, now)
    return 0
  }
  // Reported once the grant has settled: an unlock answered 503 is sent again by the phone, and counts then.
  const result = await grant(ctx, 'u', request, unit, campaign, now, read)
  report(ctx, unit.id, campaign, CAMPAIGN_METRICS.unlocks, now)
  return typeof result === 'object' ? result.point : 0
}

/**
 * A landing (docs/architecture.md §W5.2): where to send the user, after counting the click (once per device,
 * campaign and slot hour) and granting the landing reward once. The destination is the campaign's own URL,
 * never the query's; v1's external links land on their `redirect_url` only while legacy links are honoured
 * (the cut-over window). A click that cannot count (paused or ended campaign, inactive unit, expired or
 * foreign payload, device over its event rate) still lands.
 */
async function landing(
  ctx: Ctx,
  request: LandingRequest,
  context: EventContext,
): Promise<{ location: string; outcome: LandingOutcome }> {
  const now = ctx.clock()
  const tokens = [request.unit_device_token, request.allocation_unit_device_token]
  if (!checkMatches(request, request.unit_id, tokens))
    throw new AllotError('InvalidCheck', 'check does not match the click fields')
  if (request.unit_device_token === '')
    throw new AllotError('InvalidField', 'unit_device_token must not be empty')
  return landOn(ctx, request, context, now)
}

/** Where a checked landing goes, and what it counted and paid on the way. */
async function landOn(
  ctx: Ctx,
  request: LandingRequest,
  context: EventContext,
  now: number,
): Promise<{ location: string; outcome: LandingOutcome }> {
  const unit = unitOf(ctx, request.unit_id)
  if (!unit) throw new AllotError('InvalidField', `unit_id ${request.unit_id} is unknown`)
  if (request.external_campaign_id && ctx.payloads.legacyOpen(now))
    return { location: webUrl('redirect_url', request.redirect_url ?? ''), outcome: 'external' }
  const campaign = await findCampaign(ctx, request.campaign_id)
  if (!campaign)
    throw new AllotError(
      'InvalidField',
      `campaign_id ${request.campaign_id} is not a campaign Allot can land on`,
    )
  const location = campaignLocation(request, campaign)
  return {
    location,
    outcome: await countLanding(ctx, request, context.limited === true, unit, campaign, now),
  }
}

/** A landing on a known campaign: the click counted (once), then the landing reward granted (once). */
async function countLanding(
  ctx: Ctx,
  request: LandingRequest,
  limited: boolean,
  unit: Unit,
  campaign: ServedCampaign,
  now: number,
): Promise<LandingOutcome> {
  const read = ctx.payloads.read(request.payload, now)
  if (!read || !bound(read, request.device_id, unit.id, campaign)) return 'payload'
  if (limited) return 'limited'
  const late = lateness(read, unit, campaign, now)
  if (late) {
    if (!request.false_click) report(ctx, unit.id, campaign, CAMPAIGN_METRICS.ineligible, now)
    return late
  }
  // The click holds the device id, not the request: a click waiting for its batch would otherwise keep the
  // request's strings (and the query they were cut from) alive through young-generation collections.
  const deviceId = request.device_id
  const falseClick = request.false_click
  const click = () => (falseClick ? undefined : countClick(ctx, deviceId, unit, campaign, now))
  if (request.reward > 0 && !spendsBudget(campaign, 'click')) {
    // The click cannot stop the grant here (no click budget to run out) and the answer does not depend on it,
    // so the landing waits for the ledger only and the click is counted with the other clicks of the next
    // CLICK_BATCH_MS (their Redis commands in one write). Each still decides alone: the once-key whether the
    // click counts, the ledger whether the reward is paid.
    if (!falseClick) ctx.clicks.later(click)
    return landingOutcome(await grant(ctx, 'l', request, unit, campaign, now, read))
  }
  if ((await click()) === 'budget') return 'budget'
  if (request.reward <= 0) return 'none'
  return landingOutcome(await grant(ctx, 'l', request, unit, campaign, now, read))
}

/** What a landing's grant answers, as its `x-allot-reward`. */
function landingOutcome(result: GrantOutcome): LandingOutcome {
  return typeof result === 'object' ? 'granted' : result === 'nothing' ? 'none' : result
}

/**
 * A landing reward after the user stayed on the page (docs/architecture.md §W9, `POST /api/rewards`). It has
 * no payload, so Allot also requires a click of this device on this campaign recorded by a landing.
 */
async function stayReward(ctx: Ctx, request: StayRewardRequest): Promise<void> {
  const now = ctx.clock()
  const tokens = [request.unit_device_token, request.allocation_unit_device_token]
  if (!checkMatches(request, request.unit_id, tokens))
    throw new AllotError('InvalidCheck', 'check does not match the reward fields')
  const unit = activeUnit(ctx, request.unit_id)
  if (request.reward === 0) return
  const campaign = await findCampaign(ctx, request.campaign_id)
  if (!campaign) throw new AllotError('Unprocessable', `campaign_id ${request.campaign_id} is not a campaign`)
  // A landing of this process whose click still waits for its batch counts as landed.
  await ctx.clicks.settle()
  if (!(await landedOn(ctx, request.device_id, unit.id, campaign.id, now)))
    throw new AllotError('Unprocessable', `device_id ${request.device_id} has no landing on this campaign`)
  const result = await grant(ctx, 'l', request, unit, campaign, now, undefined)
  if (result === 'duplicate')
    throw new AllotError('DuplicateReward', 'this landing reward was already granted')
  if (result === 'nothing') throw new AllotError('Unprocessable', 'nothing is due for this landing')
  if (result === 'limited')
    throw new AllotError('Unprocessable', "the user reached the unit's hourly reward limit (hour_limit)")
}

/**
 * Whether the device landed on the campaign: its cached activity, and when that has no such click, its store
 * of record (a Redis failover may have lost the click from the shared copy; a reward is not refused for it).
 */
async function landedOn(ctx: Ctx, deviceId: number, unitId: number, campaignId: number, now: number) {
  const { activity } = await ctx.devices.load(deviceId, unitId, now)
  if (summarizeActivity(activity, now).clicked.has(campaignId)) return true
  return summarizeActivity(await ctx.devices.freshActivity(deviceId), now).clicked.has(campaignId)
}

/**
 * The content impression beacon (docs/architecture.md §W6): counted against caps and budgets, then recorded.
 * Capped campaigns check and record under the device's lock across processes; without the lock's store, under
 * this process's own order, from the device's activity in its store of record.
 */
async function impression(ctx: Ctx, data: string, context: EventContext): Promise<ImpressionOutcome> {
  const now = ctx.clock()
  const read = ctx.payloads.read(data, now)
  if (read?.kind !== 'allot') throw new AllotError('InvalidPayload', 'data is not an impression Allot issued')
  const { claims } = read
  const campaign = await ctx.campaignById(claims.c)
  if (!campaign) throw new AllotError('InvalidPayload', 'data names no campaign')
  if (context.limited) return 'limited'
  const late = lateness(read, unitOf(ctx, claims.u), campaign, now)
  if (late) {
    report(ctx, claims.u, campaign, CAMPAIGN_METRICS.ineligible, now)
    return late
  }
  const capped = hasCaps(campaign)
  const shared = capped && ctx.deviceLock !== undefined
  const count = async (): Promise<ImpressionOutcome> => {
    if (capped) {
      // Across processes, a capped campaign's check must see every process's impressions.
      const activity = shared
        ? await ctx.devices.freshActivity(claims.d)
        : (await ctx.devices.load(claims.d, claims.u, now)).activity
      if (!withinCaps(campaign, summarizeActivity(activity, now))) return 'cap'
    }
    if ((await countDelivery(ctx, campaign, 'impression', now)) === 'budget') return 'budget'
    // A capped campaign's impression is in the store at once: another process checks the cap against it.
    await ctx.devices.recordActivity(
      claims.d,
      { type: 'impression', campaign_id: campaign.id, at: now },
      { now: hasCaps(campaign) },
    )
    return 'counted'
  }
  let outcome: ImpressionOutcome
  try {
    // Without a cap there is nothing to check, so nothing to order: no activity read, no device queue.
    outcome = !capped
      ? await count()
      : await ctx.serialized(claims.d, () =>
          shared && ctx.deviceLock ? ctx.deviceLock.run(claims.d, count) : count(),
        )
  } catch (err) {
    if (err instanceof DependencyUnavailable && err.dependency === 'device lock') return 'unavailable'
    throw err
  }
  if (outcome === 'counted') report(ctx, claims.u, campaign, CAMPAIGN_METRICS.impressions, now)
  return outcome
}

/** The local campaign behind a wire id (ads: id + 1,000,000,000); undefined for anything else. */
async function findCampaign(ctx: Ctx, wireId: number): Promise<ServedCampaign | undefined> {
  const local = localCampaignId(wireId)
  const campaign = local && (await ctx.campaignById(local.id))
  return campaign && campaign.is_ad === local?.isAd ? campaign : undefined
}

const unitOf = (ctx: Ctx, unitId: number) => ctx.catalog.current().units.get(unitId)

/** The unit of an event; v1 answers 400 for an unknown or inactive one. */
function activeUnit(ctx: Ctx, unitId: number): Unit {
  const unit = unitOf(ctx, unitId)
  if (!unit?.is_active) throw new AllotError('InvalidField', `unit_id ${unitId} is unknown or inactive`)
  return unit
}

/** Whether events through this unit and campaign may count now: an active unit and a live campaign. */
function eligible(unit: Unit | undefined, campaign: ServedCampaign, now: number): boolean {
  return unit?.is_active === true && isLive(campaign, now)
}

/** Why an event cannot count: its payload expired, or its campaign or unit stopped; null when it can. */
function lateness(read: PayloadRead, unit: Unit | undefined, campaign: ServedCampaign, now: number) {
  if (expired(read, campaign, now)) return 'expired' as const
  return eligible(unit, campaign, now) ? null : ('inactive' as const)
}

/** Whether an Allot payload was minted for this device, unit and campaign (legacy ones bind nothing). */
function bound(read: PayloadRead, deviceId: number, unitId: number, campaign: ServedCampaign): boolean {
  if (read.kind === 'legacy') return true
  const { claims } = read
  return claims.d === deviceId && claims.u === unitId && claims.c === campaign.id
}

/** The base reward the item behind `read` carried (v1 withholds it on some ads: adBaseWithheld). */
function itemBase(unit: Unit, campaign: ServedCampaign, read: PayloadRead | undefined): number {
  if (!campaign.is_ad) return unit.base_reward
  if (read?.kind === 'allot') return read.claims.noBase ? 0 : unit.base_reward
  // A legacy payload, or none (a stay reward): only the unit's own country is known here.
  return adBaseWithheld(unit.country, undefined) ? 0 : unit.base_reward
}

/** Adds one to the campaign's report counters on the unit's local day (and to its budget spend), in memory. */
function report(ctx: Ctx, unitId: number, c: ServedCampaign, metric: string, now: number): void {
  if (!ctx.reports) return
  const timezone = unitOf(ctx, unitId)?.timezone ?? 'UTC'
  const day = localDate(timezone, now)
  // Written out, not spread from one base: a spread followed by a property is slow on Node 20 (event.presenter).
  const count = (m: string) => ({
    kind: 'campaign' as const,
    unitId,
    campaignId: c.id,
    day,
    by: 1,
    metric: m,
  })
  const budgeted =
    (metric === CAMPAIGN_METRICS.impressions && c.budget_type === 'impression') ||
    (metric === CAMPAIGN_METRICS.clicks && c.budget_type === 'click')
  ctx.reports.add(budgeted ? [count(metric), count(CAMPAIGN_METRICS.budgetSpent)] : [count(metric)])
}

/** An unlock with nothing to pay (no reward claimed, or expired) through an item minted for this device. */
async function countUnpaidUnlock(ctx: Ctx, read: PayloadRead, deviceId: number, now: number): Promise<void> {
  if (read.kind !== 'allot' || read.claims.d !== deviceId) return
  const campaign = await ctx.campaignById(read.claims.c)
  if (!campaign) return
  const counts = eligible(unitOf(ctx, read.claims.u), campaign, now) && !expired(read, campaign, now)
  report(ctx, read.claims.u, campaign, counts ? CAMPAIGN_METRICS.unlocks : CAMPAIGN_METRICS.ineligible, now)
}

/**
 * Counts one delivery of a campaign: not when `once` was seen before in its period ('duplicate'), nor when its
 * budget has nothing left ('budget'); then the delivery counters (in memory, written in batches).
 */
async function countDelivery(
  ctx: Ctx,
  c: ServedCampaign,
  kind: 'impression' | 'click',
  now: number,
  once?: { key: string; ttlMs: number },
): Promise<'counted' | 'duplicate' | 'budget'> {
  if (once && !(await ctx.once.first(once.key, once.ttlMs))) return 'duplicate'
  if ((await ctx.budgets.spend(c, kind)) === 'budget') return 'budget'
  const day = utcDay(now)
  const click = kind === 'click'
  ctx.counters.add(click ? counterKeys.clicks(c.id) : counterKeys.impressions(c.id), 1)
  const daily = click ? counterKeys.dailyClicks(c.id, day) : counterKeys.dailyImpressions(c.id, day)
  ctx.counters.add(daily, 1, ctx.dailyCounterTtlSeconds)
  return 'counted'
}

/** Counts a landing's click once per device, campaign and slot hour; records it in the device's activity. */
async function countClick(
  ctx: Ctx,
  deviceId: number,
  unit: Unit,
  campaign: ServedCampaign,
  now: number,
): Promise<'counted' | 'duplicate' | 'budget'> {
  const once = {
    key: `clk:${deviceId}:${campaign.id}:${slotHour(unit, now)}`,
    ttlMs: 2 * 3_600_000,
  }
  // The activity is queued at once and its shared copy written while the once-key is claimed (one pipeline
  // to Redis, one round trip). Either may fail without a click counted twice: the once-key decides the count,
  // and a retry records the activity again (harmless).
  // Quiet: a click counts toward no cap, and its one reader (the stay reward's landedOn) reads the shared copy
  // when its process's copy has no click, so other processes need not drop and reload the device for it.
  const recorded = ctx.devices.recordActivity(
    deviceId,
    { type: 'click', campaign_id: campaign.id, at: now },
    { quiet: true },
  )
  // Awaited below; this keeps a failure that comes while the once-key is still out from counting as unhandled.
  recorded.catch(() => {})
  let outcome: 'counted' | 'duplicate' | 'budget'
  try {
    outcome = await countDelivery(ctx, campaign, 'click', now, once)
  } finally {
    await recorded
  }
  if (outcome === 'counted') report(ctx, unit.id, campaign, CAMPAIGN_METRICS.clicks, now)
  return outcome
}

/**
 * Grants what the campaign and the item are configured for, never more in all than claimed (rewardSplit): the
 * campaign part for `action`, and the base part the item carried (once per device, unit and period).
 */
async function grant(
  ctx: Ctx,
  action: RewardAction,
  claim: RewardClaim,
  unit: Unit,
  campaign: ServedCampaign,
  now: number,
  read: PayloadRead | undefined,
): Promise<GrantOutcome> {
  if (!isLive(campaign, now)) return 'nothing'
  const configured = action === 'u' ? (campaign.is_ad ? campaign.unlock_reward : 0) : campaign.landing_reward
  const { point, basePoint } = rewardSplit(configured, itemBase(unit, campaign, read), claim)
  const entry: RewardGrant = {
    // 32 hex characters (v1's length); randomUUID draws from a cached pool of entropy, randomBytes does not.
    transaction_id: randomUUID().replaceAll('-', ''),
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
  const result = await ctx.ledger.grant(entry, postback)
  if (typeof result === 'object' && postback) ctx.onPostback?.()
  return result
}

/** Where a landing goes: the campaign's own URL (its clean link with use_clean_mode), `{ifa}` filled in. */
function campaignLocation(request: LandingRequest, campaign: ServedCampaign): string {
  const target = request.use_clean_mode && campaign.clean_link ? campaign.clean_link : campaign.click_url
  return webUrl('the campaign click_url', target.replaceAll('{ifa}', encodeURIComponent(request.ifa)))
}

/** v1's expiry: a payload is good until its campaign's end + 7 days (a legacy one carries its own end). */
function expired(read: PayloadRead, campaign: ServedCampaign | undefined, now: number): boolean {
  if (read.kind === 'legacy') return read.expired
  return campaign !== undefined && campaign.end_date + PAYLOAD_GRACE_MS <= now
}

// One-shot: half the CPU of createHash(...).update(...).digest(...) for a check's few dozen bytes (measured).
const md5 = (text: string) => hash('md5', text, 'hex')

/**
 * v1's check validation: the MD5 of the fields, also with spaces as `+` (an iOS encoding bug), also
 * lower-cased; tried with app_id as sent, then with the unit id as app_id, then with each other token.
 */
function checkMatches(claim: RewardClaim, unitId: number, tokens: readonly string[]): boolean {
  // v1 refuses a check over an empty campaign name.
  if (claim.campaign_name === '') return false
  const given = claim.check
  const lower = given.toLowerCase()
  const matches = (digest: string) => given === digest || lower === digest
  const appIds = claim.app_id === undefined || claim.app_id === unitId ? [unitId] : [claim.app_id, unitId]
  for (const token of tokens) {
    for (const app_id of appIds) {
      const source = checkSource(claim, app_id, token)
      // The second form only differs when there is a space (v1 SDKs that encoded it as '+').
      if (matches(md5(source))) return true
      if (source.includes(' ') && matches(md5(source.replaceAll(' ', '+')))) return true
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

/** An ad's revenue type for the publisher (docs/architecture.md §W13); contents have none. */
function revenueType(c: ServedCampaign): string | null {
  if (!c.is_ad) return null
  return c.revenue_type ?? (c.type === 'B' ? 'cpa' : 'cpe')
}

/**
 * The publisher postback (docs/architecture.md §W13): one per grant, `point` the total with `base_point` in
 * it, form-encoded; `data` (all fields as JSON, AES-CBC with the unit's key and IV, base64) when the unit has
 * a key; `x-allot-signature` (HMAC-SHA256 of the body) when it has an HMAC key.
 */
function postbackDraft(
  unit: Unit,
  campaign: ServedCampaign,
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
