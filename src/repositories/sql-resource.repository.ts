import type { Kysely, Transaction } from 'kysely'
import type { Database } from '../infra/database/schema.js'

type TableName = 'units' | 'campaigns' | 'categories' | 'channels'
type Page = { limit: number; offset: number }

/** Rows elsewhere that still refer to a row, counted: `{ count: 3, one: 'campaign', many: 'campaigns' }`. */
export type Reference = { count: number; one: string; many: string }

/** How one resource maps between its domain shape and its table row. */
export type ResourceMapping<T, Id, Draft> = {
  table: TableName
  toRow(draft: Draft, now: number): Record<string, unknown>
  fromRow(row: Record<string, unknown>): T
  /** created_at is only written on insert, when the table has one. */
  stamped: boolean
  /** Writes to this table move the catalog version so every process reloads its snapshot. */
  catalog: boolean
  idOf?: (id: Id) => Id
  /** What refers to a row (run inside the deleting transaction); rows nothing can refer to omit it. */
  references?: (db: Kysely<Database>, id: Id) => Promise<Reference[]>
}

/** CRUD over one table through Kysely, identical on SQLite and MySQL/MariaDB. */
export function createSqlResourceRepository<T, Id extends string | number, Draft>(
  database: Kysely<Database>,
  mapping: ResourceMapping<T, Id, Draft>,
  clock: () => number,
) {
  // Kysely's types cannot follow a table name chosen at run time; the mapping functions carry the types.
  const db = database as unknown as Kysely<Record<string, Record<string, unknown>>>
  const { table, toRow, fromRow, stamped, catalog, references } = mapping

  async function bump(trx: Transaction<Record<string, Record<string, unknown>>>) {
    if (!catalog) return
    await trx
      .updateTable('catalog_state')
      .set((eb) => ({ version: eb('version', '+', 1) }))
      .where('id', '=', 1)
      .execute()
  }

  async function get(id: Id): Promise<T | undefined> {
    const row = await db.selectFrom(table).selectAll().where('id', '=', id).executeTakeFirst()
    return row ? fromRow(row) : undefined
  }

  return {
    async list({ limit, offset }: Page): Promise<T[]> {
      const rows = await db.selectFrom(table).selectAll().orderBy('id').limit(limit).offset(offset).execute()
      return rows.map(fromRow)
    },
    get,
    /** Every row, by id (catalog snapshots). */
    async all(): Promise<T[]> {
      const rows = await db.selectFrom(table).selectAll().orderBy('id').execute()
      return rows.map(fromRow)
    },
    async create(draft: Draft, id?: Id): Promise<T | undefined> {
      const now = clock()
      const row = {
        ...toRow(draft, now),
        ...(stamped ? { created_at: now } : {}),
        ...(id === undefined ? {} : { id }),
      }
      let newId: Id
      try {
        newId = await db.transaction().execute(async (trx) => {
          const result = await trx.insertInto(table).values(row).executeTakeFirstOrThrow()
          await bump(trx)
          return (id ?? Number(result.insertId)) as Id
        })
      } catch (err) {
        if (isUniqueViolation(err)) return undefined
        throw err
      }
      return get(newId)
    },
    async update(id: Id, draft: Draft): Promise<T | undefined> {
      const changed = await db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable(table)
          .set(toRow(draft, clock()))
          .where('id', '=', id)
          .executeTakeFirst()
        await bump(trx)
        return result.numUpdatedRows > 0n
      })
      return changed ? get(id) : undefined
    },
    /**
     * Deletes the row; `check` sees what refers to it in the same transaction and throws to keep the row.
     * False when there is no such row (whatever refers to its id).
     */
    async remove(id: Id, check?: (references: Reference[]) => void): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        if (check) {
          const exists = await trx.selectFrom(table).select('id').where('id', '=', id).executeTakeFirst()
          if (!exists) return false
          check(references ? await references(trx as unknown as Kysely<Database>, id) : [])
        }
        const result = await trx.deleteFrom(table).where('id', '=', id).executeTakeFirst()
        await bump(trx)
        return result.numDeletedRows > 0n
      })
    },
  }
}

/** A primary-key or unique-key clash, on SQLite or MySQL/MariaDB. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string }).code
  return (
    code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE'
  )
}

/** Parses a JSON text column, tolerating the empty string. */
export function parseJson<T>(text: unknown, fallback: T): T {
  if (typeof text !== 'string' || text === '') return fallback
  return JSON.parse(text) as T
}

/** Integers come back as numbers from SQLite and as number or string from mysql2 for big values. */
export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value)
}

export function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value)
}

/** InnoDB may pick a deadlock victim between racing writers; `work` must be safe to repeat. */
export async function retryOnDeadlock<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await work()
    } catch (err) {
      const code = (err as { code?: string }).code
      if (i >= attempts || (code !== 'ER_LOCK_DEADLOCK' && code !== 'ER_LOCK_WAIT_TIMEOUT')) throw err
      await new Promise((r) => setTimeout(r, 5 * i))
    }
  }
}
