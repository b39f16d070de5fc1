import type { Kysely } from 'kysely'
import { type ContentConfig, defaultContentConfig } from '../domain/content-config.js'
import type { Database } from '../infra/database/schema.js'
import { parseJson } from './sql-resource.repository.js'

/** Device content configs in SQL; updates lock the row so concurrent toggles are never lost. */
export function createContentConfigRepository(
  db: Kysely<Database>,
  dialect: 'sqlite' | 'mysql',
  clock: () => number,
) {
  const toConfig = (row: {
    device_id: unknown
    category: string
    channel: string
    campaign: string
  }): ContentConfig => ({
    device_id: Number(row.device_id),
    category: parseJson(row.category, []),
    channel: parseJson(row.channel, []),
    campaign: parseJson(row.campaign, []),
  })

  return {
    async getContentConfig(deviceId: number): Promise<ContentConfig | undefined> {
      const row = await db
        .selectFrom('device_content_configs')
        .selectAll()
        .where('device_id', '=', deviceId)
        .executeTakeFirst()
      return row ? toConfig(row) : undefined
    },

    async updateContentConfig(
      deviceId: number,
      change: (current: ContentConfig) => ContentConfig,
    ): Promise<ContentConfig> {
      // Make sure the row exists first (outside the transaction, so concurrent inserts cannot deadlock),
      // then lock it for the read-modify-write; SQLite serialises writers anyway.
      const insert = db.insertInto('device_content_configs').values({
        device_id: deviceId,
        category: '[]',
        channel: '[]',
        campaign: '[]',
        updated_at: clock(),
      })
      await (dialect === 'mysql' ? insert.ignore() : insert.onConflict((oc) => oc.doNothing())).execute()
      return db.transaction().execute(async (trx) => {
        let select = trx.selectFrom('device_content_configs').selectAll().where('device_id', '=', deviceId)
        if (dialect === 'mysql') select = select.forUpdate()
        const row = await select.executeTakeFirst()
        const next = change(row ? toConfig(row) : defaultContentConfig(deviceId))
        await trx
          .updateTable('device_content_configs')
          .set({
            category: JSON.stringify(next.category),
            channel: JSON.stringify(next.channel),
            campaign: JSON.stringify(next.campaign),
            updated_at: clock(),
          })
          .where('device_id', '=', deviceId)
          .execute()
        return next
      })
    },
  }
}
