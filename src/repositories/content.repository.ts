import type { Kysely } from 'kysely'
import type { ContentCategory, ContentChannel } from '../domain/catalog.js'
import type { CategoryDraft, ChannelDraft } from '../domain/drafts.js'
import type { Database } from '../infra/database/schema.js'
import { countCampaignsInCategory, countCampaignsOnChannel } from './campaign.repository.js'
import { createSqlResourceRepository, num } from './sql-resource.repository.js'

/** Content categories (string ids such as `news`). */
export function createCategoryRepository(db: Kysely<Database>, clock: () => number) {
  return createSqlResourceRepository<ContentCategory, string, CategoryDraft>(
    db,
    {
      table: 'categories',
      toRow: (d) => ({ name: d.name, icon_url: d.icon_url, sort_order: d.sort_order }),
      fromRow: (r) => ({
        id: String(r.id),
        name: String(r.name),
        icon_url: String(r.icon_url),
        sort_order: num(r.sort_order),
      }),
      stamped: false,
      catalog: true,
      references: async (db, id) => {
        const channels = await db
          .selectFrom('channels')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('category', '=', id)
          .executeTakeFirst()
        return [
          {
            count: await countCampaignsInCategory(db, id),
            one: 'campaign (categories)',
            many: 'campaigns (categories)',
          },
          { count: num(channels?.n ?? 0), one: 'channel', many: 'channels' },
        ]
      },
    },
    clock,
  )
}

/** Content channels, each in one category. */
export function createChannelRepository(db: Kysely<Database>, clock: () => number) {
  return createSqlResourceRepository<ContentChannel, number, ChannelDraft>(
    db,
    {
      table: 'channels',
      toRow: (d) => ({ category: d.category, name: d.name, icon_url: d.icon_url }),
      fromRow: (r) => ({
        id: num(r.id),
        category: String(r.category),
        name: String(r.name),
        icon_url: String(r.icon_url),
      }),
      stamped: false,
      catalog: true,
      references: async (db, id) => [
        {
          count: await countCampaignsOnChannel(db, id),
          one: 'campaign (channel_id)',
          many: 'campaigns (channel_id)',
        },
      ],
    },
    clock,
  )
}
