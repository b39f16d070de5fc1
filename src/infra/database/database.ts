import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, MysqlDialect, SqliteDialect, sql } from 'kysely'
import { createPool, type Pool } from 'mysql2'
import type { DatabaseConfig } from '../../config/config.js'
import type { Database } from './schema.js'

/** A statement prepared once and run many times with positional `?` parameters. */
export type PreparedQuery = (params: readonly unknown[]) => Promise<Record<string, unknown>[]>

export type SqlDatabase = {
  db: Kysely<Database>
  dialect: DatabaseConfig['dialect']
  /**
   * Prepares `text` once for the few hot reads (no query building per call): better-sqlite3 keeps the
   * statement, mysql2's `execute` keeps one per connection. `text` must be valid on both dialects.
   */
  prepare(text: string): PreparedQuery
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>
  close(): Promise<void>
}

/** Opens the configured SQL database: a SQLite file (embedded) or a MySQL/MariaDB pool. */
export function openDatabase(config: DatabaseConfig): SqlDatabase {
  const driver = createDriver(config)
  const db = new Kysely<Database>({
    dialect:
      driver.kind === 'sqlite'
        ? new SqliteDialect({ database: driver.sqlite })
        : new MysqlDialect({ pool: driver.pool }),
  })
  return {
    db,
    dialect: config.dialect,
    prepare(text) {
      if (driver.kind === 'sqlite') {
        const statement = driver.sqlite.prepare(text)
        return async (params) => statement.all(...params) as Record<string, unknown>[]
      }
      const pool = driver.pool.promise()
      return async (params) => {
        const [rows] = await pool.execute(text, params as (string | number | null)[])
        return rows as Record<string, unknown>[]
      }
    },
    async ping() {
      await sql`select 1`.execute(db)
    },
    close: () => db.destroy(),
  }
}

type Driver = { kind: 'sqlite'; sqlite: SQLite.Database } | { kind: 'mysql'; pool: Pool }

function createDriver(config: DatabaseConfig): Driver {
  if (config.dialect === 'sqlite') {
    if (config.file !== ':memory:') mkdirSync(dirname(config.file), { recursive: true })
    const sqlite = new SQLite(config.file)
    sqlite.pragma('journal_mode = WAL')
    // WAL + NORMAL never corrupts; a power cut may lose the last commits, acceptable for the embedded default.
    sqlite.pragma('synchronous = NORMAL')
    sqlite.pragma('busy_timeout = 5000')
    sqlite.pragma('foreign_keys = ON')
    return { kind: 'sqlite', sqlite }
  }
  const pool = createPool({
    uri: config.url,
    connectionLimit: config.poolSize,
    charset: 'utf8mb4_unicode_ci',
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: true,
  })
  return { kind: 'mysql', pool }
}
