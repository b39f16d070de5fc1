import type { Kysely } from 'kysely'
import {
  ACTIVITY_TTL_MS,
  type ActivityItem,
  type ActivityType,
  type DeviceProfile,
} from '../domain/device.js'
import type { Database } from '../infra/database/schema.js'
import { num, parseJson } from './sql-resource.repository.js'

/** Profiles, registrations and activity in the SQL database (the embedded default's profile store). */
export function createSqlDeviceRepository(db: Kysely<Database>, dialect: 'sqlite' | 'mysql') {
  async function firstRegistration(deviceId: number, unitId: number): Promise<number | undefined> {
    const row = await db
      .selectFrom('device_registrations')
      .select('registered_at')
      .where('device_id', '=', deviceId)
      .where('unit_id', '=', unitId)
      .executeTakeFirst()
    return row ? num(row.registered_at) : undefined
  }

  return {
    async getProfile(deviceId: number): Promise<DeviceProfile | undefined> {
      const row = await db
        .selectFrom('device_profiles')
        .selectAll()
        .where('device_id', '=', deviceId)
        .executeTakeFirst()
      if (!row) return undefined
      return {
        device_id: num(row.device_id),
        category_scores: parseJson(row.category_scores, {}),
        updated_at: num(row.updated_at),
      }
    },

    async putProfile(profile: DeviceProfile): Promise<void> {
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
    },

    async registerDevice(deviceId: number, unitId: number, at: number): Promise<number> {
      const existing = await firstRegistration(deviceId, unitId)
      if (existing !== undefined) return existing
      const insert = db
        .insertInto('device_registrations')
        .values({ device_id: deviceId, unit_id: unitId, registered_at: at })
      await (dialect === 'mysql' ? insert.ignore() : insert.onConflict((oc) => oc.doNothing())).execute()
      return (await firstRegistration(deviceId, unitId)) ?? at
    },

    async recordActivity(deviceId: number, item: ActivityItem): Promise<void> {
      await db
        .insertInto('device_activity')
        .values({
          device_id: deviceId,
          campaign_id: item.campaign_id,
          type: item.type,
          at: item.at,
          expires_at: item.at + ACTIVITY_TTL_MS,
        })
        .execute()
    },

    async listActivity(deviceId: number, since: number): Promise<ActivityItem[]> {
      const rows = await db
        .selectFrom('device_activity')
        .select(['type', 'campaign_id', 'at'])
        .where('device_id', '=', deviceId)
        .where('at', '>=', since)
        .orderBy('at')
        .orderBy('id')
        .execute()
      return rows.map((r) => ({
        type: r.type as ActivityType,
        campaign_id: num(r.campaign_id),
        at: num(r.at),
      }))
    },

    /** Deletes expired activity (DynamoDB does this with its TTL attribute); returns how many rows went. */
    async purgeExpiredActivity(now: number): Promise<number> {
      const result = await db.deleteFrom('device_activity').where('expires_at', '<=', now).executeTakeFirst()
      return Number(result.numDeletedRows)
    },
  }
}
