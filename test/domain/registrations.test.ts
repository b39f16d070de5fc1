import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { Registrations } from '../../src/domain/device.js'

/** Sets and deletes over a few unit ids, so that repeats and misses are common. */
const operation = fc.oneof(
  fc.record({ set: fc.integer({ min: 1000, max: 1006 }), at: fc.integer({ min: 0, max: 2e12 }) }),
  fc.record({ delete: fc.integer({ min: 1000, max: 1006 }) }),
)

test('Registrations answers as a Map<number, number> would, iterating by unit id', () => {
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 30 }), (operations) => {
      const model = new Map<number, number>()
      const registrations = new Registrations()
      for (const op of operations) {
        if ('set' in op) {
          model.set(op.set, op.at)
          assert.equal(registrations.set(op.set, op.at), registrations)
        } else assert.equal(registrations.delete(op.delete), model.delete(op.delete))
        for (let unit = 999; unit <= 1007; unit++) {
          assert.equal(registrations.get(unit), model.get(unit))
          assert.equal(registrations.has(unit), model.has(unit))
        }
        assert.equal(registrations.size, model.size)
        const byUnit = [...model].sort((a, b) => a[0] - b[0])
        assert.deepEqual([...registrations], byUnit)
        assert.deepEqual(
          [...registrations.keys()],
          byUnit.map(([unit]) => unit),
        )
        assert.deepEqual(
          [...registrations.values()],
          byUnit.map(([, at]) => at),
        )
        assert.deepEqual(new Map(registrations), model)
      }
    }),
  )
})

test('two Registrations with the same entries are deep-equal, whatever order they were set in', () => {
  const a = new Registrations([
    [1002, 20],
    [1001, 10],
  ])
  const b = new Registrations().set(1001, 10).set(1002, 20)
  assert.deepEqual(a, b)
  assert.notDeepEqual(a, new Registrations([[1001, 10]]))
  const seen: string[] = []
  a.forEach((at, unit, map) => {
    seen.push(`${unit}:${at}:${map === a}`)
  })
  assert.deepEqual(seen, ['1001:10:true', '1002:20:true'])
})
