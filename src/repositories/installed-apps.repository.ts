import type { Kysely } from 'kysely'
import type { Database } from '../infra/database/schema.js'

/** Installed package lists per app and advertising id; the list is stored comma-separated. */
export function createInstalledAppsRepository(db: Kysely<Database>, dialect: 'sqlite' | 'mysql') {
  return {
    async get(appId: number, ifa: string): Promise<string[] | undefined> {
      const row = await db
        .selectFrom('installed_apps')
        .select('packages')
        .where('app_id', '=', appId)
        .where('ifa', '=', ifa)
        .executeTakeFirst()
      if (!row) return undefined
      return row.packages === '' ? [] : row.packages.split(',')
    },

    async put(appId: number, ifa: string, packages: readonly string[], at: number): Promise<void> {
      const update = { packages: packages.join(','), updated_at: at }
      const insert = db.insertInto('installed_apps').values({ app_id: appId, ifa, ...update })
      await (dialect === 'mysql'
        ? insert.onDuplicateKeyUpdate(update)
        : insert.onConflict((oc) => oc.columns(['app_id', 'ifa']).doUpdateSet(update))
      ).execute()
    },
  }
}
