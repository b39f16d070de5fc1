import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { sql } from 'kysely'
import { parseDatabaseUrl } from '../../src/config/config.js'
import { openDatabase } from '../../src/infra/database/database.js'

const dir = mkdtempSync(join(tmpdir(), 'allot-upsert-'))
after(() => rmSync(dir, { recursive: true, force: true }))

test('an embedded upsert of many rows lets the event loop run between transactions of at most 100 rows', async () => {
  const database = openDatabase(parseDatabaseUrl(`sqlite:${join(dir, 'upsert.sqlite')}`, 1))
  try {
    await sql`create table seen (id integer primary key, at integer not null)`.execute(database.db)
    const upsert = database.upsertMany('seen', ['id', 'at'])
    await upsert([[1, 1]])
    // Turns of the event loop taken while the upsert runs: one between each two transactions.
    let turns = 0
    let writing = true
    const spin = () => {
      if (!writing) return
      turns++
      setImmediate(spin)
    }
    setImmediate(spin)
    await upsert(Array.from({ length: 450 }, (_, i) => [i + 1, 2]))
    writing = false
    assert.equal(turns, 4, '450 rows: five transactions, the loop ran between each two')
    assert.deepEqual(await database.prepare('select count(*) as n, min(at) as at from seen')([]), [
      { n: 450, at: 2 },
    ])
  } finally {
    await database.close()
  }
})
