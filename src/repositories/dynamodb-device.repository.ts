import { randomBytes } from 'node:crypto'
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

/*
 * One table, partition key `device_id` (number), sort key `sk` (string):
 *   profile                   category_scores, updated_at
 *   reg#<unit id>             registered_at            (written once, conditionally)
 *   act#<at, 15 digits>#<r>   type, campaign_id, at, expires_at (epoch seconds, the table's TTL attribute)
 * Devices' last-seen attributes (reach estimates) live in 64 sample partitions, device_id −1 … −64
 * (never a device's id), one per slice of the sample hash space, so the devices with the smallest hashes (a
 * uniform sample) are read with a few Queries instead of a Scan of every partition:
 *   seen#<device id>          d, s (sample hash), t (seen at), unit/app ids, attributes, expires_at
 * Only Get/Put/Query/BatchWrite are used, so DynamoDB Local and dynalite behave like the real service.
 * Items go to and from the service's JSON here (attribute values written out), whichever client sends them.
 */
const PROFILE = 'profile'
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
  return {
    loadDevice: (deviceId: number, since: number) => loadDevice(t, deviceId, since),

    async getProfile(deviceId: number): Promise<DeviceProfile | undefined> {
      const item = await t.get({ device_id: deviceId, sk: PROFILE })
      return item && profileFromItem(deviceId, item)
    },

    async putProfile(profile: DeviceProfile): Promise<void> {
      await t.put({
        TableName: table,
        Item: toItem({
          device_id: profile.device_id,
          sk: PROFILE,
          category_scores: profile.category_scores,
          updated_at: profile.updated_at,
        }),
      })
    },

    registerDevice: (deviceId: number, unitId: number, at: number) => registerDevice(t, deviceId, unitId, at),

    /** Many devices' activity items, 25 per BatchWriteItem (unprocessed ones retried with backoff). */
    async recordActivities(items: readonly { deviceId: number; item: ActivityItem }[]): Promise<void> {
      await putAll(
        t,
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

/** The table's name and the four calls this repository makes, each within `timeoutMs`. */
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
    batchWrite: (input: BatchWriteInput) =>
      dynamoCall((signal) => dynamo.call('BatchWriteItem', input, signal), timeoutMs) as Promise<{
        UnprocessedItems?: BatchWriteInput['RequestItems']
      }>,
  }
}

type PutInput = { TableName: string; Item: WireItem; ConditionExpression?: string }
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
type BatchWriteInput = { RequestItems: Record<string, { PutRequest: { Item: WireItem } }[]> }
type TableCalls = ReturnType<typeof tableCalls>
type Item = Record<string, unknown>
type SeenCursor = { sample: number; deviceId: number }

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
  for (let at = 0; at < items.length; at += 25) {
    let requests = items.slice(at, at + 25).map((item) => ({ PutRequest: { Item: toItem(item) } }))
    for (let attempt = 0; requests.length > 0; attempt++) {
      const { UnprocessedItems } = await t.batchWrite({ RequestItems: { [t.table]: requests } })
      requests = UnprocessedItems?.[t.table] ?? []
      if (requests.length > 0 && attempt >= 5) throw new Error(`${requests.length} ${what} not written`)
      if (requests.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt))
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

/** Called for a device the caller found unregistered: the conditional put comes first. */
async function registerDevice(t: TableCalls, deviceId: number, unitId: number, at: number): Promise<number> {
  try {
    await t.put({
      TableName: t.table,
      Item: toItem({ device_id: deviceId, sk: `reg#${unitId}`, registered_at: at }),
      ConditionExpression: 'attribute_not_exists(sk)',
    })
    return at
  } catch (err) {
    if ((err as Error).name !== 'ConditionalCheckFailedException') throw err
    const item = await t.get({ device_id: deviceId, sk: `reg#${unitId}` }, true)
    return item ? Number(item.registered_at) : at
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
