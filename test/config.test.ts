import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ConfigError, loadConfig } from '../src/config/config.js'

describe('configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'allot-config-'))
  const sqlite = `sqlite:${join(dir, 'allot.sqlite')}`

  test('with nothing set, the embedded defaults apply', () => {
    const config = loadConfig({ DATABASE_URL: sqlite })
    assert.equal(config.port, 8080)
    assert.equal(config.mode, 'embedded')
    assert.equal(config.seedDemoData, true)
    assert.equal(config.migrateOnStart, true)
    assert.ok(Object.isFrozen(config))
  })

  test('the embedded mode generates secrets once and keeps them beside the SQLite file', () => {
    const first = loadConfig({ DATABASE_URL: sqlite })
    const second = loadConfig({ DATABASE_URL: sqlite })
    assert.equal(first.generatedSecrets, true)
    assert.ok(first.adminToken.length >= 32)
    assert.equal(first.adminToken, second.adminToken)
    assert.equal(first.payloadSecret, second.payloadSecret)
    const file = join(dir, 'allot-secrets.json')
    assert.ok(existsSync(file))
    assert.equal(statSync(file).mode & 0o777, 0o600)
  })

  test('a bad value stops the boot with a message naming the variable', () => {
    assert.throws(
      () => loadConfig({ DATABASE_URL: sqlite, PORT: 'eighty' }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError)
        assert.match(err.message, /PORT/)
        return true
      },
    )
    assert.throws(() => loadConfig({ DATABASE_URL: sqlite, LOG_LEVEL: 'loud' }), /LOG_LEVEL/)
    assert.throws(() => loadConfig({ DATABASE_URL: 'postgres://x' }), /DATABASE_URL/)
    assert.throws(() => loadConfig({ DATABASE_URL: sqlite, BODY_LIMIT_BYTES: '12' }), /BODY_LIMIT_BYTES/)
  })

  test('production mode requires ADMIN_TOKEN and PAYLOAD_SECRET', () => {
    const mysql = 'mysql://root@127.0.0.1:3306/allot'
    assert.throws(() => loadConfig({ DATABASE_URL: mysql }), /ADMIN_TOKEN is required/)
    assert.throws(
      () => loadConfig({ DATABASE_URL: mysql, ADMIN_TOKEN: 'x'.repeat(16) }),
      /PAYLOAD_SECRET is required/,
    )
    assert.throws(
      () => loadConfig({ DATABASE_URL: mysql, ADMIN_TOKEN: 'short', PAYLOAD_SECRET: 'y'.repeat(32) }),
      /ADMIN_TOKEN/,
    )
    const config = loadConfig({
      DATABASE_URL: mysql,
      ADMIN_TOKEN: 'x'.repeat(16),
      PAYLOAD_SECRET: 'y'.repeat(32),
    })
    assert.equal(config.mode, 'production')
    assert.equal(config.seedDemoData, false)
    assert.equal(config.migrateOnStart, false)
    assert.deepEqual(config.database, { dialect: 'mysql', url: mysql, poolSize: 10 })
  })

  test('RESPONSE_COMPRESSION is off unless set to gzip; another value is refused by name', () => {
    assert.equal(loadConfig({ DATABASE_URL: sqlite }).responseCompression, 'off')
    assert.equal(
      loadConfig({ DATABASE_URL: sqlite, RESPONSE_COMPRESSION: 'gzip' }).responseCompression,
      'gzip',
    )
    assert.throws(
      () => loadConfig({ DATABASE_URL: sqlite, RESPONSE_COMPRESSION: 'br' }),
      /RESPONSE_COMPRESSION/,
    )
  })

  test('HEAP_GROWTH_PERCENT is 35 unless set; 0 leaves it to V8; a negative or huge value is refused by name', () => {
    assert.equal(loadConfig({ DATABASE_URL: sqlite }).heapGrowthPercent, 35)
    assert.equal(loadConfig({ DATABASE_URL: sqlite, HEAP_GROWTH_PERCENT: '0' }).heapGrowthPercent, 0)
    for (const bad of ['-1', '301', '1.5', 'lots'])
      assert.throws(
        () => loadConfig({ DATABASE_URL: sqlite, HEAP_GROWTH_PERCENT: bad }),
        /HEAP_GROWTH_PERCENT/,
      )
  })

  test('empty variables count as unset', () => {
    assert.equal(loadConfig({ DATABASE_URL: sqlite, PORT: '' }).port, 8080)
  })

  test('cleanup', () => rmSync(dir, { recursive: true, force: true }))
})
