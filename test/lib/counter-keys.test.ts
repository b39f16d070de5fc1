import assert from 'node:assert/strict'
import { test } from 'node:test'
import { utcDay } from '../../src/lib/counter-keys.js'

const byDate = (at: number) => new Date(at).toISOString().slice(0, 10).replaceAll('-', '')

test('utcDay names the UTC day of each instant, however the calls alternate across day boundaries', () => {
  const midnight = Date.UTC(2026, 10, 25)
  const instants = [
    midnight,
    midnight - 1,
    midnight + 86_399_999,
    midnight + 86_400_000,
    midnight - 1,
    0,
    -1,
    Date.UTC(2024, 1, 29, 12),
    midnight + 5,
  ]
  for (const at of instants) assert.equal(utcDay(at), byDate(at), new Date(at).toISOString())
  assert.equal(utcDay(midnight - 1), '20261124')
  assert.equal(utcDay(midnight), '20261125')
})
