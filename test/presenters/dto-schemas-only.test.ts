import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

const DTO_DIR = join(import.meta.dirname, '../../src/http/dto')
/** Schema helpers: they build schemas, they map nothing. */
const SCHEMA_HELPERS = new Set(['StringEnum', 'Nullable'])

test('dto/ modules export schemas and schema helpers only: every mapping function lives in presenters/', async () => {
  const files = readdirSync(DTO_DIR).filter((f) => f.endsWith('.dto.ts'))
  assert.ok(files.length >= 8, `found ${files.length} dto modules`)
  const functions: string[] = []
  for (const file of files) {
    const exports = (await import(join(DTO_DIR, file))) as Record<string, unknown>
    for (const [name, value] of Object.entries(exports)) {
      if (typeof value === 'function' && !SCHEMA_HELPERS.has(name)) functions.push(`${file}: ${name}`)
    }
  }
  assert.deepEqual(functions, [])
})
