import type { Kysely } from 'kysely'
import type { DeviceConfigType, DeviceContentConfig } from '../domain/device-content-config.js'
import type { Database } from '../infra/database/schema.js'
import { num } from './sql-resource.repository.js'

/** Device content configs in SQL: three opaque strings per device, stored verbatim. */
export function createContentConfigRepository(
  db: Kysely<Database>,
  dialect: 'sqlite' | 'mysql',
  clock: () => number,
) {
  return {
    async get(deviceId: number): Promise<DeviceContentConfig | undefined> {
      const row = await db
        .selectFrom('device_content_configs')
        .select(['device_id', 'channel', 'category', 'campaign'])
        .where('device_id', '=', deviceId)
        .executeTakeFirst()
      if (!row) return undefined
      return {
        device_id: num(row.device_id),
        channel: row.channel,
        category: row.category,
        campaign: row.campaign,
      }
    },

    /** Writes one of the three strings in a single upsert; concurrent writes of other types are kept. */
    async set(deviceId: number, type: DeviceConfigType, config: string): Promise<void> {
      const now = clock()
      const update = { [type]: config, updated_at: now }
      const insert = db.insertInto('device_content_configs').values({
        device_id: deviceId,
        channel: '',
        category: '',
        campaign: '',
        ...update,
      })
      await (dialect === 'mysql'
        ? insert.onDuplicateKeyUpdate(update)
        : insert.onConflict((oc) => oc.column('device_id').doUpdateSet(update))
      ).execute()
    },
  }
}
