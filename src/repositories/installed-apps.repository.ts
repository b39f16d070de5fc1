import type { SqlDatabase } from '../infra/database/database.js'

/** Installed package lists per app and advertising id; the list is stored comma-separated. */
export function createInstalledAppsRepository({ db, dialect, prepare }: SqlDatabase) {
  // Read on the allocation path (cold devices, when a campaign targets installed apps): prepared once.
  const read = prepare('select packages from installed_apps where app_id = ? and ifa = ?')
  return {
    async get(appId: number, ifa: string): Promise<string[] | undefined> {
      const [row] = await read([appId, ifa])
      if (!row) return undefined
      const packages = String(row.packages)
      return packages === '' ? [] : packages.split(',')
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
