import type { Campaign, Targeting } from '../domain/catalog.js'
import type { CatalogSnapshot } from '../domain/catalog-snapshot.js'
import { campaignDraft } from '../domain/drafts.js'
import {
  createIdSet,
  createReachSample,
  dayNumber,
  REACH_OLDEST_DAYS,
  type ReachSample,
  type SeenDevice,
  sampleHash,
} from '../domain/reach.js'
import { localYear } from '../domain/schedule.js'
import { compileTargeting, type TargetingField } from '../domain/targeting.js'
import type { Allocation } from './allocation.service.js'
import type { Logger } from './logger.js'

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
  logger: Logger
}

const DAY_MS = 86_400_000
const PAGE = 5_000
const SAVE_CHUNK = 500
/** Unwritten devices kept while the store is down; past this, the oldest are dropped (they come back tomorrow). */
const MAX_PENDING = 200_000

export type Reach = ReturnType<typeof createReach>

/**
 * Reach estimates. Allocation tells it every device it answers (in memory, no I/O); the first time a
 * process sees a device on a UTC day, the device's attributes are queued and written to the store in
 * batches every `flushMs`, and added to this instance's uniform sample when the hash falls in it. The
 * sample is rebuilt from the store every `refreshMs`, so every instance estimates over every instance's
 * devices; an estimate runs the draft's targeting over the sample and scales the counts up.
 */
export function createReach({ store, catalog, clock, sampleSize, refreshMs, flushMs, logger }: Deps) {
  let sample: ReachSample = createReachSample(sampleSize)
  let loadedAt: number | undefined
  const written = createIdSet()
  let writtenDay = -1
  const pending: SeenDevice[] = []
  /** Devices seen while a rebuild reads the store: added to the new sample when it is in place. */
  let seenDuringLoad: SeenDevice[] | undefined
  let loading: Promise<void> | undefined
  let flushing: Promise<void> | undefined
  let stopped = false
  const timers: NodeJS.Timeout[] = []

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
      const fresh = createReachSample(sampleSize)
      let taken = 0
      let cut: number | undefined
      let after: { sample: number; deviceId: number } | undefined
      while (cut === undefined) {
        // A rebuild in progress when the process stops is abandoned (its sample would not be used).
        if (stopped) return
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
      for (const d of [...pending, ...seenDuringLoad]) fresh.upsert(d)
      sample = fresh
      loadedAt = now
    } finally {
      seenDuringLoad = undefined
    }
  }

  /** Writes the devices seen since the last flush; one flush at a time, a failed one keeps them. */
  function flush(): Promise<void> {
    flushing ??= flushNow().finally(() => {
      flushing = undefined
    })
    return flushing
  }

  /** Rebuilds the sample from the store (one rebuild at a time). */
  function load(): Promise<void> {
    loading ??= loadNow().finally(() => {
      loading = undefined
    })
    return loading
  }

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

    flush,
    load,

    /** How many devices seen in the last 1 / 7 / 30 days a campaign with this targeting would reach. */
    estimate(targeting: Partial<Targeting>): ReachEstimate {
      const now = clock()
      const ignored: TargetingField[] = []
      if (targeting.target_app?.length) ignored.push('target_app')
      if (targeting.detarget_app?.length) ignored.push('detarget_app')
      const predicate = compileTargeting(draftOf({ ...targeting, target_app: [], detarget_app: [] }))
      const units = catalog.current().units
      const counts = sample.count(predicate, now, (unitId) =>
        localYear(units.get(unitId)?.timezone ?? 'UTC', now),
      )
      const rate = sample.rate()
      const scaled = (n: number) => Math.round(n / rate)
      return {
        sampled: sample.size(),
        rate,
        loadedAt,
        ignored,
        windows: counts.map((c) => {
          let remaining = c.seen
          return {
            days: c.days,
            seen: scaled(c.seen),
            matching: scaled(c.matching),
            // Each device is in the sample with probability `rate` (Bernoulli): Var(m / rate) = M (1 − rate) / rate.
            margin: Math.round((1.96 * Math.sqrt(c.matching * (1 - rate))) / rate),
            rules: predicate.fields.map((field) => {
              const removes = c.removed.get(field) ?? 0
              remaining -= removes
              return { field, removes: scaled(removes), remaining: scaled(remaining) }
            }),
          }
        }),
      }
    },

    /** Loads the sample in the background, then keeps writing and refreshing. */
    start(): void {
      if (timers.length > 0) return
      const warn = (what: string) => (err: unknown) => logger.warn({ err }, what)
      load().catch(warn('reach sample load failed; estimates use what this instance saw'))
      timers.push(
        setInterval(
          () => void flush().catch(warn('devices seen not written; kept for the next flush')),
          flushMs,
        ),
        setInterval(
          () => void load().catch(warn('reach sample refresh failed; keeping the previous one')),
          refreshMs,
        ),
      )
      for (const t of timers) t.unref()
    },

    /**
     * Stops the timers and writes what is left, once: a store that fails now costs those sightings (a device
     * is written again the next day it is seen), never the shutdown.
     */
    async stop(): Promise<void> {
      stopped = true
      for (const t of timers.splice(0)) clearInterval(t)
      await flushing?.catch(() => {})
      await flush().catch((err) =>
        logger.warn({ err, devices: pending.length }, 'devices seen not written at shutdown'),
      )
    },

    /** Devices waiting to be written (tests, metrics). */
    pending: () => pending.length,
    /** Memory the sample holds: its typed columns, in bytes. */
    sampleBytes: () => sample.bytes(),
  }
}

function joined(values: ReadonlySet<string> | undefined): string | undefined {
  return values === undefined ? undefined : [...values].join(',')
}

/** A campaign carrying only the draft's targeting (validated as a campaign's would be). */
function draftOf(targeting: Partial<Targeting>): Campaign {
  const draft = campaignDraft({ name: 'reach', type: 'C', start_date: 0, end_date: 1, ...targeting })
  return { ...draft, id: 0, created_at: 0, updated_at: 0 }
}
