import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, MysqlDialect, SqliteDialect, sql } from 'kysely'
import { createPool } from 'mysql2'
import type { DatabaseConfig } from '../../config/config.js'
import type { Database } from './schema.js'

export type SqlDatabase = {
  db: Kysely<Database>
  dialect: DatabaseConfig['dialect']
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>
  close(): Promise<void>
}

/** Opens the configured SQL database: a SQLite file (embedded) or a MySQL/MariaDB pool. */
export function openDatabase(config: DatabaseConfig): SqlDatabase {
  const db = new Kysely<Database>({ dialect: createDialect(config) })
  return {
    db,
    dialect: config.dialect,
    async ping() {
      await sql`select 1`.execute(db)
    },
    close: () => db.destroy(),
  }
}

function createDialect(config: DatabaseConfig) {
  if (config.dialect === 'sqlite') {
    if (config.file !== ':memory:') mkdirSync(dirname(config.file), { recursive: true })
    const sqlite = new SQLite(config.file)
    sqlite.pragma('journal_mode = WAL')
    // WAL + NORMAL never corrupts; a power cut may lose the last commits, acceptable for the embedded default.
    sqlite.pragma('synchronous = NORMAL')
    sqlite.pragma('busy_timeout = 5000')
    sqlite.pragma('foreign_keys = ON')
    return new SqliteDialect({ database: sqlite })
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
  return new MysqlDialect({ pool })
}
