import type { Kysely } from 'kysely'
import type { InstanceFigures } from '../domain/fleet.js'
import type { Database } from '../infra/database/schema.js'

type Dialect = 'sqlite' | 'mysql'

/** Expired rows are deleted at most this often per process (readers ignore them meanwhile). */
const PRUNE_EVERY_MS = 60_000

/** Instance figures as stored (JSON, in a SQL text column or a Redis hash field): the domain type as is. */
export const figuresToJson = (figures: InstanceFigures): string => JSON.stringify(figures)

/** Reads stored figures back; undefined for a value that is not an instance's figures (never thrown). */
export function figuresFromJson(text: unknown): InstanceFigures | undefined {
  if (typeof text !== 'string') return undefined
  try {
    const value = JSON.parse(text) as InstanceFigures
    return typeof value?.instanceId === 'string' && typeof value.at === 'number' ? value : undefined
  } catch {
    return undefined
  }
}

/** The fleet store in the SQL database (`fleet_instances`, one upserted row per instance), used without Redis. */
export function createSqlFleetRepository(db: Kysely<Database>, dialect: Dialect) {
  let prunedAt = Number.NEGATIVE_INFINITY
  return {
    async save(figures: InstanceFigures, expiresAt: number): Promise<void> {
      const row = { at: figures.at, expires_at: expiresAt, figures: figuresToJson(figures) }
      const insert = db.insertInto('fleet_instances').values({ instance_id: figures.instanceId, ...row })
      await (dialect === 'mysql'
        ? insert.onDuplicateKeyUpdate(row)
        : insert.onConflict((oc) => oc.column('instance_id').doUpdateSet(row))
      ).execute()
      if (figures.at - prunedAt >= PRUNE_EVERY_MS) {
        prunedAt = figures.at
        await db.deleteFrom('fleet_instances').where('expires_at', '<=', figures.at).execute()
      }
    },
    async list(now: number): Promise<InstanceFigures[]> {
      const rows = await db
        .selectFrom('fleet_instances')
        .select('figures')
        .where('expires_at', '>', now)
        .execute()
      return rows.flatMap((r) => figuresFromJson(r.figures) ?? [])
    },
    async remove(instanceId: string): Promise<void> {
      await db.deleteFrom('fleet_instances').where('instance_id', '=', instanceId).execute()
    },
  }
}
