import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { AnswerWriter } from '../../src/http/presenters/answer-writer.js'

/** One piece of an answer: static bytes or ASCII text. */
const piece = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ bytes: Buffer.from(bytes) })),
  fc
    .string({ unit: fc.constantFrom('a', 'Z', '0', '-', '_', '%', '2'), maxLength: 300 })
    .map((ascii) => ({ ascii })),
)
/** An answer as written: its pieces, and whether it is finished (else a later reset drops it). */
const answer = fc.record({ pieces: fc.array(piece, { maxLength: 12 }), finished: fc.boolean() })

test('every finished answer keeps its own bytes while later answers are written, in blocks small and large', () => {
  fc.assert(
    fc.property(fc.array(answer, { maxLength: 40 }), fc.constantFrom(64, 1024, 4096), (answers, slab) => {
      const writer = new AnswerWriter(slab)
      const kept: { got: Buffer; want: Buffer }[] = []
      for (const { pieces, finished } of answers) {
        writer.reset()
        const want: Buffer[] = []
        for (const p of pieces) {
          if ('bytes' in p) writer.bytes(p.bytes)
          else writer.ascii(p.ascii)
          want.push('bytes' in p ? p.bytes : Buffer.from(p.ascii, 'latin1'))
        }
        if (finished) kept.push({ got: writer.finish(), want: Buffer.concat(want) })
      }
      // Checked at the end: a slice overwritten by a later answer (or by a dropped one) fails here.
      for (const { got, want } of kept) assert.deepEqual(got, want)
    }),
  )
})

test('answers of one block are slices of it, not copies; an answer larger than a block gets a block of its own', () => {
  const writer = new AnswerWriter(1024)
  const a = writer.reset().ascii('first').finish()
  const b = writer.reset().ascii('second').finish()
  assert.equal(a.buffer, b.buffer, 'one block')
  assert.equal(b.byteOffset % 8, 0, 'answers start on 8-byte boundaries')
  const big = Buffer.alloc(5000, 7)
  const c = writer.reset().ascii('x').bytes(big).finish()
  assert.equal(c.length, 5001)
  assert.deepEqual(c.subarray(1), big)
  assert.notEqual(c.buffer, a.buffer)
  assert.equal(a.toString(), 'first')
  assert.equal(b.toString(), 'second')
})
