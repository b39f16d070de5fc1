import { randomBytes } from 'node:crypto'
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb'
import {
  ACTIVITY_TTL_MS,
  type ActivityItem,
  type ActivityType,
  type DeviceProfile,
  type StoredDevice,
} from '../domain/device.js'
import { dynamoCall } from '../infra/dynamodb/dynamodb.js'

/*
 * One table, partition key `device_id` (number), sort key `sk` (string):
 *   profile                   category_scores, updated_at
 *   reg#<unit id>             registered_at            (written once, conditionally)
 *   act#<at, 15 digits>#<r>   type, campaign_id, at, expires_at (epoch seconds, the table's TTL attribute)
 * Only Get/Put/Query are used, so DynamoDB Local and dynalite behave like the real service.
 */
const PROFILE = 'profile'
const ACT = 'act#'
const pad = (at: number) => String(Math.max(0, Math.floor(at))).padStart(15, '0')

/**
 * Device profiles, registrations and activity in DynamoDB (production profile store); each call lasts at
 * most `timeoutMs`.
 */
export function createDynamoDeviceRepository(doc: DynamoDBDocumentClient, table: string, timeoutMs = 1_000) {
  const get = (input: GetCommand['input']) => dynamoCall((o) => doc.send(new GetCommand(input), o), timeoutMs)
  const put = (input: PutCommand['input']) => dynamoCall((o) => doc.send(new PutCommand(input), o), timeoutMs)
  const query = (input: QueryCommand['input']) =>
    dynamoCall((o) => doc.send(new QueryCommand(input), o), timeoutMs)

  async function registration(deviceId: number, unitId: number): Promise<number | undefined> {
    const { Item } = await get({
      TableName: table,
      Key: { device_id: deviceId, sk: `reg#${unitId}` },
      ConsistentRead: true,
    })
    return Item ? Number(Item.registered_at) : undefined
  }

  return {
    /** The whole partition in one Query (profile, registrations, activity); expired activity is skipped. */
    async loadDevice(deviceId: number, since: number): Promise<StoredDevice> {
      const device: StoredDevice = { profile: undefined, registrations: new Map(), activity: [] }
      let start: Record<string, unknown> | undefined
      do {
        const page = await doc.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'device_id = :d',
            ExpressionAttributeValues: { ':d': deviceId },
            ExclusiveStartKey: start,
          }),
        )
        for (const item of page.Items ?? []) {
          const sk = String(item.sk)
          if (sk === PROFILE)
            device.profile = {
              device_id: deviceId,
              category_scores: (item.category_scores as Record<string, number>) ?? {},
              updated_at: Number(item.updated_at),
            }
          else if (sk.startsWith('reg#'))
            device.registrations.set(Number(sk.slice(4)), Number(item.registered_at))
          else if (sk.startsWith(ACT) && Number(item.at) >= since)
            device.activity.push({
              type: item.type as ActivityType,
              campaign_id: Number(item.campaign_id),
              at: Number(item.at),
            })
        }
        start = page.LastEvaluatedKey
      } while (start)
      return device
    },

    async getProfile(deviceId: number): Promise<DeviceProfile | undefined> {
      const { Item } = await get({ TableName: table, Key: { device_id: deviceId, sk: PROFILE } })
      if (!Item) return undefined
      return {
        device_id: deviceId,
        category_scores: (Item.category_scores as Record<string, number>) ?? {},
        updated_at: Number(Item.updated_at),
      }
    },

    async putProfile(profile: DeviceProfile): Promise<void> {
      await put({
        TableName: table,
        Item: {
          device_id: profile.device_id,
          sk: PROFILE,
          category_scores: profile.category_scores,
          updated_at: profile.updated_at,
        },
      })
    },

    /** Called for a device the caller found unregistered: the conditional put comes first. */
    async registerDevice(deviceId: number, unitId: number, at: number): Promise<number> {
      try {
        await put({
          TableName: table,
          Item: { device_id: deviceId, sk: `reg#${unitId}`, registered_at: at },
          ConditionExpression: 'attribute_not_exists(sk)',
        })
        return at
      } catch (err) {
        if ((err as Error).name !== 'ConditionalCheckFailedException') throw err
        return (await registration(deviceId, unitId)) ?? at
      }
    },

    async recordActivity(deviceId: number, item: ActivityItem): Promise<void> {
      // A random suffix keeps two events of one campaign in the same millisecond apart.
      const sk = `${ACT}${pad(item.at)}#${randomBytes(4).toString('hex')}`
      await put({
        TableName: table,
        Item: {
          device_id: deviceId,
          sk,
          type: item.type,
          campaign_id: item.campaign_id,
          at: item.at,
          expires_at: Math.ceil((item.at + ACTIVITY_TTL_MS) / 1000),
        },
      })
    },

    async listActivity(deviceId: number, since: number): Promise<ActivityItem[]> {
      const items: ActivityItem[] = []
      let start: Record<string, unknown> | undefined
      do {
        const page = await query({
          TableName: table,
          KeyConditionExpression: 'device_id = :d AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':d': deviceId, ':from': `${ACT}${pad(since)}`, ':to': `${ACT}~` },
          ProjectionExpression: '#t, campaign_id, #at',
          ExpressionAttributeNames: { '#t': 'type', '#at': 'at' },
          ExclusiveStartKey: start,
        })
        for (const row of page.Items ?? []) {
          items.push({
            type: row.type as ActivityType,
            campaign_id: Number(row.campaign_id),
            at: Number(row.at),
          })
        }
        start = page.LastEvaluatedKey
      } while (start)
      return items
    },
  }
}
