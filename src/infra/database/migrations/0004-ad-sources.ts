import type { Kysely } from 'kysely'

/** Upstream ad networks per unit (JSON list; NULL on existing rows means none). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('units').addColumn('ad_sources', 'text').execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('units').dropColumn('ad_sources').execute()
}
