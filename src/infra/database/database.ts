import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import SQLite from 'better-sqlite3'
import {
  Kysely,
  MysqlDialect,
  type MysqlPool,
  type MysqlPoolConnection,
  type MysqlQueryResult,
  SqliteDialect,
  sql,
} from 'kysely'
import { createPool, type Pool, type PoolConnection } from 'mysql2'
import type { DatabaseConfig } from '../../config/config.js'
import { DependencyUnavailable } from '../../domain/errors.js'
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
  /**
   * A batch insert of rows into `table` (columns in order), ignoring rows whose key exists: one SQLite
   * transaction or one MySQL statement for the lot. Answers how many rows were new.
   */
  insertIgnoreMany(table: string, columns: readonly string[]): (rows: readonly unknown[][]) => Promise<number>
  /**
   * A batch upsert of rows into `table` (columns in order; the first is the key): a row whose key exists
   * replaces the other columns. SQLite writes at most 100 rows per transaction and lets the event loop run
   * between them; MySQL sends one statement per 500 rows. Prepared once: nothing is built per call.
   */
  upsertMany(table: string, columns: readonly string[]): (rows: readonly unknown[][]) => Promise<void>
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>
  close(): Promise<void>
}

/**
 * Limits for the serving path (MySQL): waiting for a connection and each query last at most `timeoutMs`,
 * and at most `queueLimit` callers wait for a connection. Migrations open the database without them.
 */
export type DatabaseLimits = { timeoutMs: number; queueLimit: number }

/** Opens the configured SQL database: a SQLite file (embedded) or a MySQL/MariaDB pool. */
export function openDatabase(config: DatabaseConfig, limits?: DatabaseLimits): SqlDatabase {
  const driver = createDriver(config, limits)
  const execute = executeWith(limits)
  const db = new Kysely<Database>({
    dialect:
      driver.kind === 'sqlite'
        ? new SqliteDialect({ database: driver.sqlite })
        : new MysqlDialect({ pool: limits ? boundedPool(driver.pool, limits.timeoutMs) : driver.pool }),
  })
  return {
    db,
    dialect: config.dialect,
    prepare(text) {
      if (driver.kind === 'sqlite') {
        const statement = driver.sqlite.prepare(text)
        return async (params) => statement.all(...params) as Record<string, unknown>[]
      }
      return execute(driver.pool, text)
    },
    insertIgnoreMany(table, columns) {
      const list = columns.join(', ')
      if (driver.kind === 'sqlite') {
        const one = driver.sqlite.prepare(
          `insert into ${table} (${list}) values (${columns.map(() => '?').join(', ')}) on conflict do nothing`,
        )
        const all = driver.sqlite.transaction((rows: readonly unknown[][]) =>
          rows.reduce<number>((n, row) => n + one.run(...row).changes, 0),
        )
        return async (rows) => all(rows)
      }
      const { pool } = driver
      return (rows) =>
        new Promise((resolve, reject) => {
          pool.query(
            {
              sql: `insert ignore into ${table} (${list}) values ?`,
              values: [rows],
              ...(limits ? { timeout: limits.timeoutMs } : {}),
            },
            (err, result) =>
              err
                ? reject(databaseError(err))
                : resolve(Number((result as { affectedRows: number }).affectedRows)),
          )
        })
    },
    upsertMany(table, columns) {
      const list = columns.join(', ')
      const [key, ...rest] = columns
      if (driver.kind === 'sqlite') {
        const one = driver.sqlite.prepare(
          `insert into ${table} (${list}) values (${columns.map(() => '?').join(', ')}) ` +
            `on conflict (${key}) do update set ${rest.map((c) => `${c} = excluded.${c}`).join(', ')}`,
        )
        const some = driver.sqlite.transaction((rows: readonly unknown[][]) => {
          for (const row of rows) one.run(...row)
        })
        return async (rows) => {
          for (let at = 0; at < rows.length; at += SQLITE_UPSERT_CHUNK) {
            if (at > 0) await new Promise((resolve) => setImmediate(resolve))
            some(rows.slice(at, at + SQLITE_UPSERT_CHUNK))
          }
        }
      }
      const { pool } = driver
      const text = `insert into ${table} (${list}) values ? on duplicate key update ${rest.map((c) => `${c} = values(${c})`).join(', ')}`
      return async (rows) => {
        for (let at = 0; at < rows.length; at += UPSERT_CHUNK)
          await new Promise<void>((resolve, reject) => {
            pool.query(
              {
                sql: text,
                values: [rows.slice(at, at + UPSERT_CHUNK)],
                ...(limits ? { timeout: limits.timeoutMs } : {}),
              },
              (err) => (err ? reject(databaseError(err)) : resolve()),
            )
          })
      }
    },
    async ping() {
      await sql`select 1`.execute(db)
    },
    close: () => db.destroy(),
  }
}

/** Rows per upsert statement (MySQL: sent, not waited on by the event loop). */
const UPSERT_CHUNK = 500
/**
 * Rows per upsert transaction on SQLite, which runs on the event loop. The reach sightings' rows each land on
 * a random page of their (sample, device) index, so 500 rows held the loop 50–130 ms; 100 hold it about 20 ms.
 */
const SQLITE_UPSERT_CHUNK = 100

type Driver = { kind: 'sqlite'; sqlite: SQLite.Database } | { kind: 'mysql'; pool: Pool }

/**
 * mysql2 keeps the prepared statement per connection. With limits, one timer bounds waiting for a connection and
 * the answer together; a connection whose statement timed out or failed at the connection level is destroyed,
 * never handed back (a later statement would queue behind the stuck one, where no timeout of its own starts).
 */
function executeWith(limits: DatabaseLimits | undefined) {
  return (pool: Pool, text: string): PreparedQuery =>
    (params) =>
      new Promise((resolve, reject) => {
        const values = params as (string | number | null)[]
        if (!limits) {
          pool.execute({ sql: text, values }, (err, rows) =>
            err ? reject(databaseError(err)) : resolve(rows as Record<string, unknown>[]),
          )
          return
        }
        let settled = false
        let running: PoolConnection | undefined
        const settle = (err: unknown, rows?: unknown) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          if (err) reject(err)
          else resolve(rows as Record<string, unknown>[])
        }
        const timer = setTimeout(() => {
          running?.destroy()
          settle(new DependencyUnavailable('database', 'timeout'))
        }, limits.timeoutMs)
        pool.getConnection((err, connection) => {
          if (settled) return connection?.release()
          if (err) return settle(databaseError(err))
          running = connection
          connection.execute({ sql: text, values }, (failure, rows) => {
            running = undefined
            if (settled) return
            const mapped = failure && databaseError(failure)
            if (mapped instanceof DependencyUnavailable) connection.destroy()
            else connection.release()
            settle(mapped, rows)
          })
        })
      })
}

function createDriver(config: DatabaseConfig, limits: DatabaseLimits | undefined): Driver {
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
    // One statement per query: the grant, once two batches of statements, is now one stored procedure
    // (repositories/mysql-grant.ts).
    multipleStatements: false,
    ...(limits ? { connectTimeout: limits.timeoutMs, queueLimit: limits.queueLimit } : {}),
  })
  return { kind: 'mysql', pool }
}

/**
 * The mysql2 pool as Kysely uses it, with time limits: getting a connection and every query fail with
 * DependencyUnavailable('database') after `timeoutMs`, and so do connection-level errors.
 */
function boundedPool(pool: Pool, timeoutMs: number): MysqlPool {
  return {
    getConnection(callback) {
      let waiting = true
      const timer = setTimeout(() => {
        waiting = false
        callback(new DependencyUnavailable('database', 'timeout'), undefined as never)
      }, timeoutMs)
      pool.getConnection((err, connection) => {
        if (!waiting) {
          // The caller gave up: a connection that arrives late goes straight back to the pool.
          connection?.release()
          return
        }
        waiting = false
        clearTimeout(timer)
        if (err) callback(databaseError(err), undefined as never)
        else callback(null, boundedConnection(connection, timeoutMs))
      })
    },
    end: (callback) => pool.end(callback),
  }
}

function boundedConnection(raw: PoolConnection, timeoutMs: number): MysqlPoolConnection {
  let broken = false
  function query(
    sqlText: string,
    parameters: unknown[],
    callback?: (error: unknown, result: MysqlQueryResult) => void,
  ) {
    // Streaming is not used on the serving path; it keeps mysql2's own behaviour.
    if (!callback) return raw.query(sqlText, parameters)
    if (broken) {
      callback(new DependencyUnavailable('database', 'unreachable'), [])
      return
    }
    raw.query({ sql: sqlText, values: parameters, timeout: timeoutMs }, (err, result) => {
      if (!err) return callback(null, result as MysqlQueryResult)
      const mapped = databaseError(err)
      // A timed-out query may still run on this connection, and a failed one may be half closed: the
      // connection is destroyed on release instead of going back to the pool.
      if (mapped instanceof DependencyUnavailable) broken = true
      callback(mapped, [])
    })
  }
  return {
    query: query as MysqlPoolConnection['query'],
    release: () => (broken ? raw.destroy() : raw.release()),
  }
}

// mysql2 codes meaning the server, or the way to it, is gone; anything else is the query's own error.
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
])

function databaseError(err: unknown): unknown {
  const { code, fatal, message } = err as { code?: string; fatal?: boolean; message?: string }
  if (code === 'PROTOCOL_SEQUENCE_TIMEOUT') return new DependencyUnavailable('database', 'timeout', err)
  if (message === 'Queue limit reached.') return new DependencyUnavailable('database', 'overloaded', err)
  if (fatal || (code !== undefined && CONNECTION_ERRORS.has(code)))
    return new DependencyUnavailable('database', 'unreachable', err)
  return err
}
