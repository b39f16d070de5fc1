import type { Campaign, Targeting } from '../domain/catalog.js'
import type { CatalogSnapshot } from '../domain/catalog-snapshot.js'
import { campaignDraft } from '../domain/drafts.js'
import {
  createIdSet,
  createReachSample,
  dayNumber,
  REACH_OLDEST_DAYS,
  type ReachSample,
  type SampleCounts,
  type SeenDevice,
  sampleHash,
} from '../domain/reach.js'
import { localYear } from '../domain/schedule.js'
import { compileTargeting, type TargetingField } from '../domain/targeting.js'
import { TARGETING_TABLE } from '../domain/targeting-fields.js'
import type { Allocation } from './allocation.service.js'
import type { Logger } from './ports/logger.ports.js'
import { createPeriodicFlush, type ScheduledJob, type Scheduler, singleFlight } from './scheduler.js'

/** Where each device's last-seen attributes are kept (the profile store: SQL table or DynamoDB items). */
export type SeenStore = {
  /** Writes the devices' last-seen attributes (a later write of a device replaces the earlier one). */
  saveSeen(devices: readonly SeenDevice[]): Promise<void>
  /**
   * Devices last seen at or after `since` (epoch ms), in ascending (sample, deviceId) order, after the
   * `after` position, at most `limit`: a sample is the first rows of this order.
   */
  listSeen(
    since: number,
    after: { sample: number; deviceId: number } | undefined,
    limit: number,
  ): Promise<SeenDevice[]>
}

/** One window of a reach estimate: devices seen in its last `days` UTC days, and how many match. */
export type ReachWindow = {
  days: number
  seen: number
  matching: number
  /** Half-width of the 95 % interval of `matching` (0 when every device is in the sample). */
  margin: number
  /** Each restricted field in matching order: how many devices it is the first to remove. */
  rules: { field: TargetingField; removes: number; remaining: number }[]
}

export type ReachEstimate = {
  windows: ReachWindow[]
  /** Devices in this instance's sample, and the probability any one device is in it (1 = exact). */
  sampled: number
  rate: number
  /** When the sample was last rebuilt from the store; undefined while the first load runs. */
  loadedAt: number | undefined
  /** Fields of the draft the estimate cannot evaluate (installed packages are not kept per device). */
  ignored: TargetingField[]
}

type Deps = {
  store: SeenStore
  catalog: { current(): CatalogSnapshot }
  clock: () => number
  /** The most devices the in-memory sample holds. */
  sampleSize: number
  /** How often the sample is rebuilt from the store (devices other instances saw). */
  refreshMs: number
  /** How often devices seen here are written to the store. */
  flushMs: number
  scheduler: Scheduler
  logger: Logger
}

const DAY_MS = 86_400_000
const PAGE = 5_000
const SAVE_CHUNK = 500
/** Unwritten devices kept while the store is down; past this, the oldest are dropped (they come back tomorrow). */
const MAX_PENDING = 200_000

/**
 * Reach estimates. Allocation tells it every device it answers (in memory, no I/O); the first time a
 * process sees a device on a UTC day, the device's attributes are queued and written to the store in
 * batches every `flushMs`, and added to this instance's uniform sample when the hash falls in it. The
 * sample is rebuilt from the store every `refreshMs`, so every instance estimates over every instance's
 * devices; an estimate runs the draft's targeting over the sample and scales the counts up.
 */
export function createReach({
  store,
  catalog,
  clock,
  sampleSize,
  refreshMs,
  flushMs,
  scheduler,
  logger,
}: Deps) {
  let sample: ReachSample = createReachSample(sampleSize)
  let loadedAt: number | undefined
  const written = createIdSet()
  let writtenDay = -1
  const pending: SeenDevice[] = []
  /** Devices seen while a rebuild reads the store: added to the new sample when it is in place. */
  let seenDuringLoad: SeenDevice[] | undefined
  let stopped = false
  let refreshing: ScheduledJob | undefined

  async function flushNow(): Promise<void> {
    while (pending.length > 0) {
      const batch = pending.splice(0, SAVE_CHUNK)
      try {
        await store.saveSeen(batch)
      } catch (err) {
        pending.unshift(...batch)
        throw err
      }
    }
  }

  /** Rebuilds the sample from the store: the `sampleSize` devices with the smallest hashes. */
  async function loadNow(): Promise<void> {
    const now = clock()
    const since = (dayNumber(now) - REACH_OLDEST_DAYS + 1) * DAY_MS
    seenDuringLoad = []
    try {
      const fresh = await readSample(store, since, sampleSize, () => stopped)
      // A rebuild in progress when the process stops is abandoned (its sample would not be used).
      if (!fresh) return
      for (const d of [...pending, ...seenDuringLoad]) fresh.upsert(d)
      sample = fresh
      loadedAt = now
    } finally {
      seenDuringLoad = undefined
    }
  }

  const flusher = createPeriodicFlush(scheduler, 'reach sightings flush', flushMs, flushNow)
  /** Rebuilds the sample from the store (one rebuild at a time). */
  const load = singleFlight(loadNow)

  return {
    /** Notes a device an allocation answered; writes nothing itself (no I/O on the hot path). */
    observe(a: Allocation): void {
      const day = dayNumber(a.now)
      if (day !== writtenDay) {
        written.clear()
        writtenDay = day
      }
      if (!written.add(a.request.device_id)) return
      const seen = seenOf(a)
      if (pending.length >= MAX_PENDING) pending.shift()
      pending.push(seen)
      seenDuringLoad?.push(seen)
      sample.upsert(seen)
    },

    /** Writes the devices seen since the last flush; one flush at a time, a failed one keeps them. */
    flush: flusher.flush,
    load: (): Promise<void> => load(),

    /** How many devices seen in the last 1 / 7 / 30 days a campaign with this targeting would reach. */
    estimate(targeting: Partial<Targeting>): ReachEstimate {
      const now = clock()
      const ignored = unsampledIn(targeting)
      const predicate = compileTargeting(draftOf({ ...targeting, ...CLEARED }))
      const units = catalog.current().units
      const counts = sample.count(predicate, now, (unitId) =>
        localYear(units.get(unitId)?.timezone ?? 'UTC', now),
      )
      const rate = sample.rate()
      return {
        sampled: sample.size(),
        rate,
        loadedAt,
        ignored,
        windows: counts.map((c) => scaledWindow(c, rate, predicate.fields)),
      }
    },

    /** Loads the sample in the background, then keeps writing and refreshing. */
    start(): void {
      if (refreshing) return
      load().catch((err) =>
        logger.warn({ err }, 'reach sample load failed; estimates use what this instance saw'),
      )
      flusher.start()
      // A failed refresh keeps the previous sample; a failed flush keeps its devices for the next one.
      refreshing = scheduler.every('reach sample refresh', refreshMs, load)
    },

    /**
     * Stops the timers and writes what is left, once: a store that fails now costs those sightings (a device
     * is written again the next day it is seen), never the shutdown.
     */
    async stop(): Promise<void> {
      stopped = true
      // Not awaited: a rebuild in flight is abandoned at its next page, and its sample is not used.
      void refreshing?.stop()
      refreshing = undefined
      await flusher
        .stop()
        .catch((err) => logger.warn({ err, devices: pending.length }, 'devices seen not written at shutdown'))
    },

    /** Devices waiting to be written (tests, metrics). */
    pending: () => pending.length,
    /** Memory the sample holds: its typed columns, in bytes. */
    sampleBytes: () => sample.bytes(),
  }
}

/** The fields the sample keeps no column for (installed packages): an estimate ignores them. */
const UNSAMPLED = TARGETING_TABLE.filter((f) => f.reach === undefined)
/** The unsampled fields' keys, cleared (empty lists, open bounds). */
const CLEARED = Object.fromEntries(
  UNSAMPLED.flatMap((f) => [
    ...f.listKeys.map((k) => [k, []] as const),
    ...f.boundKeys.map((k) => [k, null] as const),
  ]),
) as Partial<Targeting>

/** The unsampled fields a draft restricts, in table order. */
function unsampledIn(targeting: Partial<Targeting>): TargetingField[] {
  const values = targeting as Record<string, unknown>
  const restricts = (key: string) =>
    (values[key] as unknown[] | null | undefined)?.length || typeof values[key] === 'number'
  return UNSAMPLED.filter((f) => [...f.listKeys, ...f.boundKeys].some(restricts)).map((f) => f.name)
}

function joined(values: ReadonlySet<string> | undefined): string | undefined {
  return values === undefined ? undefined : [...values].join(',')
}

/** A campaign carrying only the draft's targeting (validated as a campaign's would be). */
function draftOf(targeting: Partial<Targeting>): Campaign {
  const draft = campaignDraft({ name: 'reach', type: 'C', start_date: 0, end_date: 1, ...targeting })
  return { ...draft, id: 0, created_at: 0, updated_at: 0 }
}

/** What allocation knew of a device, as a sighting for the sample and the store. */
function seenOf(a: Allocation): SeenDevice {
  const d = a.device
  return {
    deviceId: a.request.device_id,
    sample: sampleHash(a.request.device_id),
    seenAt: a.now,
    unitId: d.unitId,
    appId: d.appId,
    country: d.country,
    gender: d.gender,
    language: d.language,
    carrier: d.carrier,
    region: d.region,
    yearOfBirth: a.request.year_of_birth,
    os: d.os,
    sdk: d.sdk,
    registeredAt: d.registeredDays === undefined ? undefined : a.now - d.registeredDays * DAY_MS,
    customTargets: [joined(d.customTargets[0]), joined(d.customTargets[1]), joined(d.customTargets[2])],
  }
}

/**
 * The `sampleSize` devices with the smallest hashes seen since `since`, read page by page from the store (cut
 * at the first hash left out); undefined when `stopped` says so between pages.
 */
async function readSample(
  store: Deps['store'],
  since: number,
  sampleSize: number,
  stopped: () => boolean,
): Promise<ReachSample | undefined> {
  const fresh = createReachSample(sampleSize)
  let taken = 0
  let cut: number | undefined
  let after: { sample: number; deviceId: number } | undefined
  while (cut === undefined) {
    if (stopped()) return undefined
    const page = await store.listSeen(since, after, PAGE)
    for (const d of page) {
      if (taken === sampleSize) {
        cut = d.sample
        break
      }
      fresh.upsert(d)
      taken++
    }
    const last = page[page.length - 1]
    if (page.length < PAGE || !last) break
    after = { sample: last.sample, deviceId: last.deviceId }
  }
  if (cut !== undefined) fresh.cutAt(cut)
  return fresh
}

/** One window's counts in the sample, scaled to all devices, with the margin and the rule-by-rule removals. */
function scaledWindow(c: SampleCounts, rate: number, fields: readonly TargetingField[]) {
  const scaled = (n: number) => Math.round(n / rate)
  let remaining = c.seen
  return {
    days: c.days,
    seen: scaled(c.seen),
    matching: scaled(c.matching),
    // Each device is in the sample with probability `rate` (Bernoulli): Var(m / rate) = M (1 − rate) / rate.
    margin: Math.round((1.96 * Math.sqrt(c.matching * (1 - rate))) / rate),
    rules: fields.map((field) => {
      const removes = c.removed.get(field) ?? 0
      remaining -= removes
      return { field, removes: scaled(removes), remaining: scaled(remaining) }
    }),
  }
}
