import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConnection } from 'mysql2/promise'
import { requireComponent } from './requirement.js'

/** One SQL backend a suite runs against, in its own throw-away database. */
export type SqlBackend = {
  name: 'sqlite' | 'mariadb'
  /** A reason to skip (only outside CI); undefined when the backend is available. */
  skip: string | undefined
  /** A fresh, empty database for one test app; dropped by `cleanup`. */
  createDatabaseUrl(): Promise<string>
  cleanup(): Promise<void>
}

/** Server used for the MariaDB/MySQL suites; override with MYSQL_TEST_URL. */
export const MYSQL_TEST_URL = process.env.MYSQL_TEST_URL ?? 'mysql://root@127.0.0.1:3306'

/**
 * Every SQL backend: SQLite always; MariaDB when reachable. With CI=true an unreachable MariaDB throws
 * (a failure, never a skip); outside CI the suite is skipped with a visible reason.
 */
export async function sqlBackends(): Promise<SqlBackend[]> {
  return [sqliteBackend(), await mysqlBackend()]
}

function sqliteBackend(): SqlBackend {
  const dir = mkdtempSync(join(tmpdir(), 'allot-test-'))
  let n = 0
  return {
    name: 'sqlite',
    skip: undefined,
    createDatabaseUrl: async () => `sqlite:${join(dir, `db-${n++}.sqlite`)}`,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  }
}

async function mysqlBackend(): Promise<SqlBackend> {
  const created: string[] = []
  const reachable = await canConnect()
  const skip = requireComponent(
    reachable === true ? undefined : `MariaDB at ${MYSQL_TEST_URL} is unreachable (${reachable})`,
    'MariaDB suite',
  )
  return {
    name: 'mariadb',
    skip,
    async createDatabaseUrl() {
      const name = `allot_t_${process.pid}_${randomBytes(4).toString('hex')}`
      const conn = await createConnection(MYSQL_TEST_URL)
      try {
        await conn.query(`create database \`${name}\` character set utf8mb4 collate utf8mb4_unicode_ci`)
      } finally {
        await conn.end()
      }
      created.push(name)
      return `${MYSQL_TEST_URL.replace(/\/$/, '')}/${name}`
    },
    async cleanup() {
      if (created.length === 0) return
      const conn = await createConnection(MYSQL_TEST_URL)
      try {
        for (const name of created.splice(0)) await conn.query(`drop database if exists \`${name}\``)
      } finally {
        await conn.end()
      }
    },
  }
}

async function canConnect(): Promise<true | string> {
  try {
    const conn = await createConnection({ uri: MYSQL_TEST_URL, connectTimeout: 3000 })
    await conn.end()
    return true
  } catch (err) {
    return (err as Error).message
  }
}
