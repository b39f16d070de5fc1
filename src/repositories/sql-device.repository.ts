import DataLoader from 'dataloader'
import {
  ACTIVITY_TTL_MS,
  type ActivityItem,
  type DeviceProfile,
  Registrations,
  type StoredDevice,
} from '../domain/device.js'
import type { SeenDevice } from '../domain/reach.js'
import type { SqlDatabase } from '../infra/database/database.js'
import type { DeviceSeenTable } from '../infra/database/schema.js'
import { activityFromRow } from './activity-row.js'
import { PER_LOOP_ITERATION } from './loop-batch.js'
import { num, numOrNull, parseJson } from './sql-resource.repository.js'

/**
 * Devices' profiles, registrations and recent activity in one statement (prepared once per list length):
 * kind 0 is the profile, 1 a registration, 2 an activity item.
 */
function loadDevicesSql(count: number): string {
  const ids = Array.from({ length: count }, () => '?').join(', ')
  return `
  select device_id, 0 as kind, 0 as campaign_id, '' as type, updated_at as at, category_scores as data
    from device_profiles where device_id in (${ids})
  union all
  select device_id, 1, unit_id, '', registered_at, null from device_registrations where device_id in (${ids})
  union all
  select device_id, 2, campaign_id, type, at, null from device_activity where device_id in (${ids}) and at >= ?
  order by kind, at`
}

/**
 * Longest list of devices one MySQL load asks for. Statements exist for 1, 2, 4 … this many ids (a shorter
 * batch repeats its last id), so a handful of statements serve every batch.
 */
const MAX_BATCH = 64

type Load = { deviceId: number; since: number }
type Row = Record<string, unknown>

function emptyDevice(): StoredDevice {
  return { profile: undefined, registrations: new Registrations(), activity: [] }
}

/** Adds one row of the load statement to its device. */
function addRow(device: StoredDevice, deviceId: number, row: Row): void {
  const kind = num(row.kind)
  if (kind === 0) device.profile = profileFromRow(deviceId, row.data, row.at)
  else if (kind === 1) device.registrations.set(num(row.campaign_id), num(row.at))
  else device.activity.push(activityFromRow(row))
}

function profileFromRow(deviceId: number, scores: unknown, updatedAt: unknown): DeviceProfile {
  return { device_id: deviceId, category_scores: parseJson(scores, {}), updated_at: num(updatedAt) }
}

/** Profiles, registrations and activity in the SQL database (the embedded default's profile store). */
export function createSqlDeviceRepository({
  db,
  dialect,
  prepare,
  insertIgnoreMany,
  upsertMany,
}: SqlDatabase) {
  const upsertSeen = upsertMany('device_seen', SEEN_COLUMNS)
  return {
    loadDevice: createDeviceLoader(dialect, prepare),
    getProfile: (deviceId: number) => getProfile(db, deviceId),
    putProfile: (profile: DeviceProfile) => putProfile(db, dialect, profile),
    /** Called for a device the caller found unregistered: the insert comes first (one statement when new). */
    registerDevice: createRegistrationQueue(db, insertIgnoreMany),
    /** Many devices' activity items in one statement per 500 (one commit). */
    recordActivities: (items: readonly { deviceId: number; item: ActivityItem }[]) =>
      recordActivities(db, items),
    listActivity: (deviceId: number, since: number) => listActivity(db, deviceId, since),
    /** Writes devices' last-seen attributes (the later write wins). */
    async saveSeen(devices: readonly SeenDevice[]): Promise<void> {
      await upsertSeen(
        devices.map((d) => {
          const row = seenRow(d)
          return SEEN_COLUMNS.map((c) => row[c])
        }),
      )
    },
    listSeen: (since: number, after: SeenCursor | undefined, limit: number) =>
      listSeen(db, since, after, limit),
    /** Deletes expired activity (DynamoDB does this with its TTL attribute); returns how many rows went. */
    async purgeExpiredActivity(now: number): Promise<number> {
      const result = await db.deleteFrom('device_activity').where('expires_at', '<=', now).executeTakeFirst()
      return Number(result.numDeletedRows)
    },
  }
}

/**
 * `loadDevice(deviceId, since)`: the device's profile, registrations and activity since `since`, in one
 * statement. MySQL: cold devices met while the event loop handles one batch of sockets are read together at
 * the end of that iteration, one round trip for all. SQLite reads in process: there is no round trip to save.
 */
function createDeviceLoader(dialect: SqlDatabase['dialect'], prepare: SqlDatabase['prepare']) {
  const statements = new Map<number, ReturnType<typeof prepare>>()
  const loadStatement = (count: number) => {
    const statement = statements.get(count) ?? prepare(loadDevicesSql(count))
    statements.set(count, statement)
    return statement
  }
  const batchedLoads =
    dialect === 'mysql'
      ? new DataLoader<Load, StoredDevice>((loads) => loadDevices(loadStatement, loads), {
          ...PER_LOOP_ITERATION,
          maxBatchSize: MAX_BATCH,
        })
      : undefined
  return async (deviceId: number, since: number): Promise<StoredDevice> => {
    if (batchedLoads) return batchedLoads.load({ deviceId, since })
    const device = emptyDevice()
    for (const row of await loadStatement(1)([deviceId, deviceId, deviceId, since]))
      addRow(device, deviceId, row)
    return device
  }
}

/** One statement for every device in `loads`; each device's activity from its own `since`. */
async function loadDevices(
  loadStatement: (count: number) => ReturnType<SqlDatabase['prepare']>,
  loads: readonly Load[],
): Promise<StoredDevice[]> {
  let size = 1
  while (size < loads.length) size *= 2
  const ids = Array.from({ length: size }, (_, i) => (loads[Math.min(i, loads.length - 1)] as Load).deviceId)
  const since = Math.min(...loads.map((l) => l.since))
  const rows = await loadStatement(size)([...ids, ...ids, ...ids, since])
  const devices = new Map<number, StoredDevice>()
  for (const row of rows) {
    const deviceId = num(row.device_id)
    const device = devices.get(deviceId) ?? emptyDevice()
    devices.set(deviceId, device)
    addRow(device, deviceId, row)
  }
  return loads.map(({ deviceId, since: from }) => {
    const device = devices.get(deviceId)
    if (!device) return emptyDevice()
    // Two loads of one device in a batch get copies, each with the activity of its own window.
    return {
      profile: device.profile,
      registrations: new Registrations(device.registrations),
      activity: device.activity.filter((a) => a.at >= from),
    }
  })
}

type QueuedRegistration = {
  deviceId: number
  unitId: number
  at: number
  done: (at: number) => void
  fail: (e: unknown) => void
}

/**
 * `registerDevice(deviceId, unitId, at)`, answering the registration time that stands. New devices'
 * registrations are gathered for one tick and written together (one transaction or statement): under load,
 * many cold devices arrive at once, and a write per device would cost a round trip each.
 */
function createRegistrationQueue(db: SqlDatabase['db'], insertIgnoreMany: SqlDatabase['insertIgnoreMany']) {
  const insertRegistrations = insertIgnoreMany('device_registrations', [
    'device_id',
    'unit_id',
    'registered_at',
  ])
  let queued: QueuedRegistration[] = []
  async function write(batch: readonly QueuedRegistration[]): Promise<void> {
    const inserted = await insertRegistrations(batch.map((r) => [r.deviceId, r.unitId, r.at]))
    // All new: every caller's time stands. Otherwise a racing registration won somewhere: read them back.
    if (inserted === batch.length) for (const r of batch) r.done(r.at)
    else for (const r of batch) r.done((await firstRegistration(db, r.deviceId, r.unitId)) ?? r.at)
  }
  function flush(): void {
    const batch = queued
    queued = []
    // A failed write or read-back fails every caller still waiting (one already answered keeps its answer).
    write(batch).catch((err) => {
      for (const r of batch) r.fail(err)
    })
  }
  return (deviceId: number, unitId: number, at: number): Promise<number> =>
    new Promise((done, fail) => {
      if (queued.length === 0) setImmediate(flush)
      queued.push({ deviceId, unitId, at, done, fail })
    })
}

async function firstRegistration(
  db: SqlDatabase['db'],
  deviceId: number,
  unitId: number,
): Promise<number | undefined> {
  const row = await db
    .selectFrom('device_registrations')
    .select('registered_at')
    .where('device_id', '=', deviceId)
    .where('unit_id', '=', unitId)
    .executeTakeFirst()
  return row ? num(row.registered_at) : undefined
}

async function getProfile(db: SqlDatabase['db'], deviceId: number): Promise<DeviceProfile | undefined> {
  const row = await db
    .selectFrom('device_profiles')
    .selectAll()
    .where('device_id', '=', deviceId)
    .executeTakeFirst()
  return row && profileFromRow(num(row.device_id), row.category_scores, row.updated_at)
}

async function putProfile(
  db: SqlDatabase['db'],
  dialect: SqlDatabase['dialect'],
  profile: DeviceProfile,
): Promise<void> {
  const values = {
    device_id: profile.device_id,
    category_scores: JSON.stringify(profile.category_scores),
    updated_at: profile.updated_at,
  }
  const update = { category_scores: values.category_scores, updated_at: values.updated_at }
  const insert = db.insertInto('device_profiles').values(values)
  await (dialect === 'mysql'
    ? insert.onDuplicateKeyUpdate(update)
    : insert.onConflict((oc) => oc.column('device_id').doUpdateSet(update))
  ).execute()
}

async function listActivity(db: SqlDatabase['db'], deviceId: number, since: number): Promise<ActivityItem[]> {
  const rows = await db
    .selectFrom('device_activity')
    .select(['type', 'campaign_id', 'at'])
    .where('device_id', '=', deviceId)
    .where('at', '>=', since)
    .orderBy('at')
    .orderBy('id')
    .execute()
  return rows.map(activityFromRow)
}

type SeenCursor = { sample: number; deviceId: number }

/** Devices last seen at or after `since`, by ascending (sample, device id) after `after`, at most `limit`. */
async function listSeen(
  db: SqlDatabase['db'],
  since: number,
  after: SeenCursor | undefined,
  limit: number,
): Promise<SeenDevice[]> {
  let query = db
    .selectFrom('device_seen')
    .selectAll()
    .where('seen_at', '>=', since)
    .orderBy('sample')
    .orderBy('device_id')
    .limit(limit)
  if (after)
    query = query.where((eb) =>
      eb.or([
        eb('sample', '>', after.sample),
        eb.and([eb('sample', '=', after.sample), eb('device_id', '>', after.deviceId)]),
      ]),
    )
  return (await query.execute()).map(seenFromRow)
}

/** device_seen's columns in the order the upsert takes them; the key first. */
const SEEN_COLUMNS = [
  'device_id',
  'sample',
  'seen_at',
  'unit_id',
  'app_id',
  'country',
  'gender',
  'language',
  'carrier',
  'region',
  'year_of_birth',
  'os',
  'sdk',
  'registered_at',
  'custom_target_1',
  'custom_target_2',
  'custom_target_3',
] as const satisfies readonly (keyof DeviceSeenTable)[]

function seenRow(d: SeenDevice): DeviceSeenTable {
  return {
    device_id: d.deviceId,
    sample: d.sample,
    seen_at: d.seenAt,
    unit_id: d.unitId,
    app_id: d.appId,
    country: d.country ?? null,
    gender: d.gender ?? null,
    language: d.language ?? null,
    carrier: d.carrier ?? null,
    region: d.region ?? null,
    year_of_birth: d.yearOfBirth ?? null,
    os: d.os ?? null,
    sdk: d.sdk ?? null,
    registered_at: d.registeredAt ?? null,
    custom_target_1: d.customTargets[0] ?? null,
    custom_target_2: d.customTargets[1] ?? null,
    custom_target_3: d.customTargets[2] ?? null,
  }
}

function seenFromRow(r: DeviceSeenTable): SeenDevice {
  const text = (v: string | null) => v ?? undefined
  const number = (v: unknown) => numOrNull(v) ?? undefined
  return {
    deviceId: num(r.device_id),
    sample: num(r.sample),
    seenAt: num(r.seen_at),
    unitId: num(r.unit_id),
    appId: num(r.app_id),
    country: text(r.country),
    gender: text(r.gender),
    language: text(r.language),
    carrier: text(r.carrier),
    region: text(r.region),
    yearOfBirth: number(r.year_of_birth),
    os: number(r.os),
    sdk: number(r.sdk),
    registeredAt: number(r.registered_at),
    customTargets: [text(r.custom_target_1), text(r.custom_target_2), text(r.custom_target_3)],
  }
}

async function recordActivities(
  db: SqlDatabase['db'],
  items: readonly { deviceId: number; item: ActivityItem }[],
): Promise<void> {
  for (let at = 0; at < items.length; at += 500)
    await db
      .insertInto('device_activity')
      .values(
        items.slice(at, at + 500).map(({ deviceId, item }) => ({
          device_id: deviceId,
          campaign_id: item.campaign_id,
          type: item.type,
          at: item.at,
          expires_at: item.at + ACTIVITY_TTL_MS,
        })),
      )
      .execute()
}
