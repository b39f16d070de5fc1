import { randomBytes } from 'node:crypto'
import DataLoader from 'dataloader'
import { LRUCache } from 'lru-cache'
import {
  ACTIVITY_TTL_MS,
  type ActivityItem,
  type DeviceProfile,
  Registrations,
  type StoredDevice,
} from '../domain/device.js'
import type { SeenDevice } from '../domain/reach.js'
import { fromItem, toAttribute, toItem, type WireItem } from '../infra/dynamodb/attribute-values.js'
import { dynamoCall } from '../infra/dynamodb/dynamodb.js'
import type { DynamoTransport } from '../infra/dynamodb/dynamodb-http.js'
import { activityFromRow } from './activity-row.js'
import { asError, PER_LOOP_ITERATION } from './loop-batch.js'

/*
 * One table, partition key `device_id` (number), sort key `sk` (string):
 *   profile                   category_scores, updated_at
 *   reg#<unit id>             registered_at            (written once: read by key first)
 *   act#<at, 15 digits>#<r>   type, campaign_id, at, expires_at (epoch seconds, the table's TTL attribute)
 *   dev                       no attributes: "this partition holds the device's data" (the device mark)
 * Every write of a device's data also writes its mark (the same item each time), so a device without a mark
 * has nothing stored: loads first read the marks of many devices in one BatchGetItem, and only a marked
 * device's partition is queried. A brand-new device (most cold allocations) then costs a share of one call,
 * not a Query of its own. The item `device_id 0, sk format` (`marks: 1`) says every partition has its mark:
 * a new table gets it at creation; a table written before marks existed gets it when `prepareDeviceTable`
 * is told to mark it, which marks every partition first. Until then every load queries its partition.
 * Devices' last-seen attributes (reach estimates) live in 64 sample partitions, device_id −1 … −64
 * (never a device's id), one per slice of the sample hash space, so the devices with the smallest hashes (a
 * uniform sample) are read with a few Queries instead of a Scan of every partition:
 *   seen#<device id>          d, s (sample hash), t (seen at), unit/app ids, attributes, expires_at
 * Only Get/Put/Query/BatchGet/BatchWrite (and Scan, to mark an old table) are used, so DynamoDB Local and
 * dynalite behave like the real service.
 * Items go to and from the service's JSON here (attribute values written out), whichever client sends them.
 */
const PROFILE = 'profile'
const MARK = 'dev'
/** The table's format item: on a device id no device has (0, as `pingDeviceTable` reads). */
const FORMAT_KEY = { device_id: 0, sk: 'format' }
/** How often a table not yet marked is asked again whether it is (`prepareDeviceTable` ran meanwhile). */
const FORMAT_RECHECK_MS = 60_000
/** Devices this process knows to be marked, so their next writes leave the mark out (a mark is never removed). */
const MARKS_REMEMBERED = 100_000
/**
 * How long a load's finding "this device has no mark" spares the device's registration its read: a new
 * device registers right after its first load, so its registration is written without reading first. Another
 * process registering the same new device on the same unit within this window may write too (the later write
 * stands), the race a read before the write also leaves open for the few milliseconds between them.
 */
const EMPTY_TRUSTED_MS = 1_000
/** New devices remembered as empty at once (a second of new devices at 20,000 a second; older ones are read). */
const EMPTY_REMEMBERED = 20_000
/** BatchGetItem reads at most 100 keys. */
const GET_BATCH = 100
const ACT = 'act#'
const SEEN = 'seen#'
/** Hash bits per sample partition: 2^32 / 2^26 = 64 partitions (a million devices: ~16,000 items each). */
const SEEN_SHIFT = 26
const seenPartition = (sample: number) => -1 - Math.floor(sample / 2 ** SEEN_SHIFT)
/** A device not seen for this long leaves the table (TTL): past the longest reach window. */
const SEEN_TTL_MS = 35 * 86_400_000
const pad = (at: number) => String(Math.max(0, Math.floor(at))).padStart(15, '0')

/**
 * Device profiles, registrations and activity in DynamoDB (production profile store); each call lasts at
 * most `timeoutMs`.
 */
export function createDynamoDeviceRepository(dynamo: DynamoTransport, table: string, timeoutMs = 1_000) {
  const t = tableCalls(dynamo, table, timeoutMs)
  const marks = createMarks(t)
  // The loads and registrations of one event-loop iteration: one BatchGetItem of marks, one of registrations.
  const loads = new DataLoader<Load, StoredDevice>((batch) => loadDevices(t, marks, batch), {
    ...PER_LOOP_ITERATION,
    maxBatchSize: GET_BATCH,
  })
  const registrations = new DataLoader<Registration, number>((batch) => registerDevices(t, marks, batch), {
    ...PER_LOOP_ITERATION,
    maxBatchSize: GET_BATCH,
  })
  return {
    /** The device's profile, registrations and activity since `since`; unmarked devices read as empty. */
    loadDevice: (deviceId: number, since: number) => loads.load({ deviceId, since }),

    async getProfile(deviceId: number): Promise<DeviceProfile | undefined> {
      const item = await t.get({ device_id: deviceId, sk: PROFILE })
      return item && profileFromItem(deviceId, item)
    },

    async putProfile(profile: DeviceProfile): Promise<void> {
      const { device_id, category_scores, updated_at } = profile
      await putMarked(
        t,
        marks,
        [device_id],
        [{ device_id, sk: PROFILE, category_scores, updated_at }],
        'profile',
      )
    },

    /**
     * The registration time that stands for the device on `unitId`, recording `at` when there is none. The
     * registrations of one loop iteration are read in one consistent BatchGetItem (but not those of devices a
     * load has just found empty) and the new ones written in BatchWriteItems (the first call per device and
     * unit in the batch stands for the batch).
     */
    registerDevice: (deviceId: number, unitId: number, at: number) =>
      registrations.load({ deviceId, unitId, at }),

    /** Many devices' activity items (and the marks of devices not known marked), 25 per BatchWriteItem. */
    async recordActivities(items: readonly { deviceId: number; item: ActivityItem }[]): Promise<void> {
      await putMarked(
        t,
        marks,
        items.map((i) => i.deviceId),
        items.map(({ deviceId, item }) => activityItem(deviceId, item)),
        'activity items',
      )
    },

    /** Writes devices' last-seen attributes, 25 items per BatchWriteItem (the later write wins). */
    async saveSeen(devices: readonly SeenDevice[]): Promise<void> {
      // One device once per batch: BatchWriteItem refuses two writes of one key.
      const latest = new Map(devices.map((d) => [d.deviceId, d]))
      await putAll(t, [...latest.values()].map(seenItem), 'devices seen')
    },

    listSeen: (since: number, after: SeenCursor | undefined, limit: number) =>
      listSeen(t, since, after, limit),

    async listActivity(deviceId: number, since: number): Promise<ActivityItem[]> {
      const items = await queryAll(t, {
        TableName: table,
        // Read by the cap check only: it must see the impression another process wrote a moment ago.
        ConsistentRead: true,
        KeyConditionExpression: 'device_id = :d AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: toItem({
          ':d': deviceId,
          ':from': `${ACT}${pad(since)}`,
          ':to': `${ACT}~`,
        }),
        ProjectionExpression: '#t, campaign_id, #at',
        ExpressionAttributeNames: { '#t': 'type', '#at': 'at' },
      })
      return items.map(activityFromRow)
    },
  }
}

/** The table's name and the calls this repository makes, each within `timeoutMs`. */
function tableCalls(dynamo: DynamoTransport, table: string, timeoutMs: number) {
  return {
    table,
    /** One item by key, or undefined; `consistent` reads the latest write. */
    async get(key: Item, consistent = false): Promise<Item | undefined> {
      const { Item } = (await dynamoCall(
        (signal) =>
          dynamo.call(
            'GetItem',
            { TableName: table, Key: toItem(key), ...(consistent ? { ConsistentRead: true } : {}) },
            signal,
          ),
        timeoutMs,
      )) as { Item?: WireItem }
      return Item && fromItem(Item)
    },
    put: (input: PutInput) => dynamoCall((signal) => dynamo.call('PutItem', input, signal), timeoutMs),
    async query(input: QueryInput): Promise<{ Items: Item[]; LastEvaluatedKey: WireItem | undefined }> {
      const page = (await dynamoCall((signal) => dynamo.call('Query', input, signal), timeoutMs)) as {
        Items?: WireItem[]
        LastEvaluatedKey?: WireItem
      }
      return { Items: (page.Items ?? []).map(fromItem), LastEvaluatedKey: page.LastEvaluatedKey }
    },
    async scan(input: ScanInput): Promise<{ Items: Item[]; LastEvaluatedKey: WireItem | undefined }> {
      const page = (await dynamoCall((signal) => dynamo.call('Scan', input, signal), timeoutMs)) as {
        Items?: WireItem[]
        LastEvaluatedKey?: WireItem
      }
      return { Items: (page.Items ?? []).map(fromItem), LastEvaluatedKey: page.LastEvaluatedKey }
    },
    batchGet: (input: BatchGetInput) =>
      dynamoCall((signal) => dynamo.call('BatchGetItem', input, signal), timeoutMs) as Promise<{
        Responses?: Record<string, WireItem[]>
        UnprocessedKeys?: BatchGetInput['RequestItems']
      }>,
    batchWrite: (input: BatchWriteInput) =>
      dynamoCall((signal) => dynamo.call('BatchWriteItem', input, signal), timeoutMs) as Promise<{
        UnprocessedItems?: BatchWriteInput['RequestItems']
      }>,
  }
}

type PutInput = { TableName: string; Item: WireItem }
type QueryInput = {
  TableName: string
  KeyConditionExpression: string
  ExpressionAttributeValues: WireItem
  ExpressionAttributeNames?: Record<string, string>
  ProjectionExpression?: string
  FilterExpression?: string
  ConsistentRead?: boolean
  ExclusiveStartKey?: WireItem | undefined
}
type ScanInput = {
  TableName: string
  ProjectionExpression: string
  ConsistentRead: boolean
  ExclusiveStartKey?: WireItem | undefined
}
type BatchGetInput = { RequestItems: Record<string, { Keys: WireItem[]; ConsistentRead: boolean }> }
type BatchWriteInput = { RequestItems: Record<string, { PutRequest: { Item: WireItem } }[]> }
type TableCalls = ReturnType<typeof tableCalls>
type Item = Record<string, unknown>
type SeenCursor = { sample: number; deviceId: number }
type Load = { deviceId: number; since: number }
type Registration = { deviceId: number; unitId: number; at: number }
type Marks = ReturnType<typeof createMarks>

/**
 * What this process knows of device marks: the table's format (marked or not: asked once, and while it is
 * not, again every FORMAT_RECHECK_MS) and the devices it has seen marked or marked itself.
 */
function createMarks(t: TableCalls) {
  const known = new LRUCache<number, true>({ max: MARKS_REMEMBERED })
  const empty = new LRUCache<number, true>({ max: EMPTY_REMEMBERED, ttl: EMPTY_TRUSTED_MS })
  let format: { marked: boolean; at: number } | undefined
  let asking: Promise<boolean> | undefined
  return {
    /** The devices among `deviceIds` not known to be marked, each once. */
    unknown: (deviceIds: readonly number[]) => [...new Set(deviceIds)].filter((id) => !known.has(id)),
    remember(deviceIds: Iterable<number>): void {
      for (const id of deviceIds) {
        known.set(id, true)
        empty.delete(id)
      }
    },
    /** Devices a load of this process has just found without a mark (nothing stored), until they are written. */
    rememberEmpty(deviceIds: Iterable<number>): void {
      for (const id of deviceIds) empty.set(id, true)
    },
    /** Whether a load found `deviceId` without a mark less than EMPTY_TRUSTED_MS ago, and nothing was written since. */
    knownEmpty: (deviceId: number) => empty.has(deviceId),
    /** Whether every partition of the table carries its mark (then an unmarked device has nothing stored). */
    tableMarked(): Promise<boolean> {
      if (format && (format.marked || Date.now() - format.at < FORMAT_RECHECK_MS))
        return Promise.resolve(format.marked)
      asking ??= t
        .get(FORMAT_KEY, true)
        .then((item) => {
          format = { marked: Number(item?.marks) === 1, at: Date.now() }
          return format.marked
        })
        .finally(() => {
          asking = undefined
        })
      return asking
    },
  }
}

const markItem = (deviceId: number) => ({ device_id: deviceId, sk: MARK })
const emptyDevice = (): StoredDevice => ({
  profile: undefined,
  registrations: new Registrations(),
  activity: [],
})

/**
 * Puts devices' items with the marks of the devices not known marked, the marks first (in the same or an
 * earlier BatchWriteItem), so once the call returns every item written has its mark; a mark without data
 * reads as an empty device. A call that fails part-way may leave an item without its mark until the device's
 * next write, which carries the mark again (a failed write's devices are not remembered as marked).
 */
async function putMarked(
  t: TableCalls,
  marks: Marks,
  deviceIds: readonly number[],
  items: readonly Item[],
  what: string,
): Promise<void> {
  const unmarked = marks.unknown(deviceIds)
  await putAll(t, [...unmarked.map(markItem), ...items], what)
  marks.remember(unmarked)
}

/** Items by key, 100 per consistent BatchGetItem; unprocessed keys are asked again with backoff, five times at most. */
async function getAll(t: TableCalls, keys: readonly Item[]): Promise<Item[]> {
  const found: Item[] = []
  await inChunks(
    keys.map((key) => toItem(key)),
    GET_BATCH,
    'keys not read',
    async (wanted) => {
      const { Responses, UnprocessedKeys } = await t.batchGet({
        RequestItems: { [t.table]: { Keys: wanted, ConsistentRead: true } },
      })
      for (const item of Responses?.[t.table] ?? []) found.push(fromItem(item))
      return UnprocessedKeys?.[t.table]?.Keys ?? []
    },
  )
  return found
}

/**
 * One loop iteration's loads: the marks of their devices in one BatchGetItem, then a partition Query per
 * load of a marked device (every load, while the table is not marked); an unmarked device reads as empty.
 */
async function loadDevices(t: TableCalls, marks: Marks, batch: readonly Load[]) {
  let marked: Set<number> | undefined
  try {
    if (await marks.tableMarked()) {
      const ids = [...new Set(batch.map((l) => l.deviceId))]
      const found = new Set((await getAll(t, ids.map(markItem))).map((item) => Number(item.device_id)))
      marks.remember(found)
      marks.rememberEmpty(ids.filter((id) => !found.has(id)))
      marked = found
    }
  } catch (err) {
    const error = asError(err)
    return batch.map(() => error)
  }
  return Promise.all(
    batch.map(({ deviceId, since }) =>
      !marked || marked.has(deviceId) ? loadDevice(t, deviceId, since).catch(asError) : emptyDevice(),
    ),
  )
}

/**
 * One loop iteration's registrations: the standing ones read in one consistent BatchGetItem (except those of
 * devices a load has just found empty), the missing ones (the first call per device and unit in the batch)
 * written with their devices' marks. Two processes registering one device on one unit in the same few
 * milliseconds both write, and the later write stands. A registration left without its mark by a write that
 * failed part-way reads as absent to a load; one made within EMPTY_TRUSTED_MS of that load then writes over it.
 */
async function registerDevices(t: TableCalls, marks: Marks, batch: readonly Registration[]) {
  const key = (deviceId: unknown, unitId: unknown) => `${deviceId}:${unitId}`
  const first = new Map<string, Registration>()
  for (const r of batch) if (!first.has(key(r.deviceId, r.unitId))) first.set(key(r.deviceId, r.unitId), r)
  const regKey = (r: Registration) => ({ device_id: r.deviceId, sk: `reg#${r.unitId}` })
  const standing = new Map<string, number>()
  // A device a load has just found empty has no registration to read.
  const toRead = [...first.values()].filter((r) => !marks.knownEmpty(r.deviceId))
  for (const item of await getAll(t, toRead.map(regKey)))
    standing.set(key(item.device_id, String(item.sk).slice(4)), Number(item.registered_at))
  const fresh = [...first.values()].filter((r) => !standing.has(key(r.deviceId, r.unitId)))
  await putMarked(
    t,
    marks,
    fresh.map((r) => r.deviceId),
    fresh.map((r) => ({ ...regKey(r), registered_at: r.at })),
    'registrations',
  )
  return batch.map((r) => {
    const k = key(r.deviceId, r.unitId)
    return standing.get(k) ?? (first.get(k) as Registration).at
  })
}

/**
 * Records that loads may trust device marks (the table's format item). A table this release created gets it at
 * once. A table from before marks keeps every load querying its partition until `markExisting`: then its keys
 * are scanned, every device partition is marked, and the format item written. Mark an existing table (`npm
 * run migrate -- --mark-devices`) only once every instance runs a release that writes marks: an older one
 * writing a new device's data afterwards would leave it unmarked, and unread. Answers how many devices it
 * marked, 'already' when the table was marked before, or 'not marked'.
 */
export async function prepareDeviceTable(
  dynamo: DynamoTransport,
  table: string,
  { created, markExisting = false }: { created: boolean; markExisting?: boolean },
  timeoutMs = 30_000,
): Promise<number | 'already' | 'not marked'> {
  const t = tableCalls(dynamo, table, timeoutMs)
  if (!created && Number((await t.get(FORMAT_KEY, true))?.marks) === 1) return 'already'
  if (!created && !markExisting) return 'not marked'
  const devices = new Set<number>()
  if (!created) {
    let start: WireItem | undefined
    do {
      const page = await t.scan({
        TableName: table,
        ProjectionExpression: 'device_id',
        ConsistentRead: true,
        ExclusiveStartKey: start,
      })
      // Ids 0 and below are the format item and the sample partitions, not devices.
      for (const item of page.Items) if (Number(item.device_id) > 0) devices.add(Number(item.device_id))
      start = page.LastEvaluatedKey
    } while (start)
  }
  await putAll(t, [...devices].map(markItem), 'device marks')
  await t.put({ TableName: table, Item: toItem({ ...FORMAT_KEY, marks: 1 }) })
  return devices.size
}

/** Every item a Query matches, page after page (a page ends at 1 MB); each page within the timeout. */
async function queryAll(t: TableCalls, input: QueryInput): Promise<Item[]> {
  let page = await t.query(input)
  const items = page.Items
  while (page.LastEvaluatedKey) {
    page = await t.query({ ...input, ExclusiveStartKey: page.LastEvaluatedKey })
    items.push(...page.Items)
  }
  return items
}

/** Puts items 25 per BatchWriteItem; unprocessed ones are retried with backoff, five times at most. */
async function putAll(t: TableCalls, items: readonly Item[], what: string): Promise<void> {
  await inChunks(
    items.map((item) => ({ PutRequest: { Item: toItem(item) } })),
    25,
    `${what} not written`,
    async (requests) => {
      const { UnprocessedItems } = await t.batchWrite({ RequestItems: { [t.table]: requests } })
      return UnprocessedItems?.[t.table] ?? []
    },
  )
}

/**
 * Sends `entries` `size` at a time through `send`, which answers what the table left unprocessed; that is
 * sent again after 50, 100, 200 … ms, and an error names what is still left after the sixth try.
 */
async function inChunks<T>(
  entries: readonly T[],
  size: number,
  left: string,
  send: (chunk: T[]) => Promise<readonly T[]>,
): Promise<void> {
  for (let at = 0; at < entries.length; at += size) {
    let chunk = entries.slice(at, at + size)
    for (let attempt = 0; chunk.length > 0; attempt++) {
      chunk = [...(await send(chunk))]
      if (chunk.length > 0 && attempt >= 5) throw new Error(`${chunk.length} ${left}`)
      if (chunk.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt))
    }
  }
}

/**
 * The whole partition in one Query (profile, registrations, activity; more pages only past 1 MB), each
 * page within the timeout; expired activity is skipped.
 */
async function loadDevice(t: TableCalls, deviceId: number, since: number): Promise<StoredDevice> {
  const device: StoredDevice = { profile: undefined, registrations: new Registrations(), activity: [] }
  const items = await queryAll(t, {
    TableName: t.table,
    KeyConditionExpression: 'device_id = :d',
    ExpressionAttributeValues: { ':d': toAttribute(deviceId) },
  })
  for (const item of items) {
    const sk = String(item.sk)
    if (sk === PROFILE) device.profile = profileFromItem(deviceId, item)
    else if (sk.startsWith('reg#')) device.registrations.set(Number(sk.slice(4)), Number(item.registered_at))
    else if (sk.startsWith(ACT) && Number(item.at) >= since) device.activity.push(activityFromRow(item))
  }
  return device
}

function profileFromItem(deviceId: number, item: Item): DeviceProfile {
  return {
    device_id: deviceId,
    category_scores: (item.category_scores as Record<string, number>) ?? {},
    updated_at: Number(item.updated_at),
  }
}

/**
 * Devices last seen at or after `since`, by ascending (sample, device id) after `after`, at most
 * `limit`: the sample partitions from the one holding `after`, in hash order.
 */
async function listSeen(
  t: TableCalls,
  since: number,
  after: SeenCursor | undefined,
  limit: number,
): Promise<SeenDevice[]> {
  const out: SeenDevice[] = []
  const isAfter = (d: SeenDevice) =>
    !after || d.sample > after.sample || (d.sample === after.sample && d.deviceId > after.deviceId)
  for (
    let partition = seenPartition(after?.sample ?? 0);
    partition >= -(2 ** (32 - SEEN_SHIFT));
    partition--
  ) {
    const items = await queryAll(t, {
      TableName: t.table,
      KeyConditionExpression: 'device_id = :p AND begins_with(sk, :seen)',
      FilterExpression: '#t >= :since',
      ExpressionAttributeNames: { '#t': 't' },
      ExpressionAttributeValues: toItem({ ':p': partition, ':seen': SEEN, ':since': since }),
    })
    const found = items.map(seenFromItem).filter(isAfter)
    found.sort((a, b) => a.sample - b.sample || a.deviceId - b.deviceId)
    out.push(...found)
    if (out.length >= limit) break
  }
  return out.slice(0, limit)
}

function seenItem(d: SeenDevice): Record<string, unknown> {
  return {
    device_id: seenPartition(d.sample),
    sk: `${SEEN}${d.deviceId}`,
    d: d.deviceId,
    s: d.sample,
    t: d.seenAt,
    unit_id: d.unitId,
    app_id: d.appId,
    country: d.country,
    gender: d.gender,
    lang: d.language,
    carrier: d.carrier,
    region: d.region,
    yob: d.yearOfBirth,
    os: d.os,
    sdk: d.sdk,
    reg: d.registeredAt,
    c1: d.customTargets[0],
    c2: d.customTargets[1],
    c3: d.customTargets[2],
    expires_at: Math.ceil((d.seenAt + SEEN_TTL_MS) / 1000),
  }
}

function seenFromItem(item: Record<string, unknown>): SeenDevice {
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined)
  const number = (v: unknown) => (v === undefined || v === null ? undefined : Number(v))
  return {
    deviceId: Number(item.d),
    sample: Number(item.s),
    seenAt: Number(item.t),
    unitId: Number(item.unit_id),
    appId: Number(item.app_id),
    country: text(item.country),
    gender: text(item.gender),
    language: text(item.lang),
    carrier: text(item.carrier),
    region: text(item.region),
    yearOfBirth: number(item.yob),
    os: number(item.os),
    sdk: number(item.sdk),
    registeredAt: number(item.reg),
    customTargets: [text(item.c1), text(item.c2), text(item.c3)],
  }
}

/** One activity item as stored: a random suffix keeps two events of one campaign in one millisecond apart. */
function activityItem(deviceId: number, item: ActivityItem): Record<string, unknown> {
  return {
    device_id: deviceId,
    sk: `${ACT}${pad(item.at)}#${randomBytes(4).toString('hex')}`,
    type: item.type,
    campaign_id: item.campaign_id,
    at: item.at,
    expires_at: Math.ceil((item.at + ACTIVITY_TTL_MS) / 1000),
  }
}
