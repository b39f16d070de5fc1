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

test('answers released at any point free their room for later ones, and an answer still out keeps its bytes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ answer, release: fc.array(fc.nat(), { maxLength: 3 }) }), { maxLength: 60 }),
      fc.constantFrom(64, 1024, 4096),
      (steps, slab) => {
        const writer = new AnswerWriter(slab)
        const out: { got: Buffer; want: Buffer }[] = []
        for (const { answer: a, release } of steps) {
          writer.reset()
          const want: Buffer[] = []
          for (const p of a.pieces) {
            if ('bytes' in p) writer.bytes(p.bytes)
            else writer.ascii(p.ascii)
            want.push('bytes' in p ? p.bytes : Buffer.from(p.ascii, 'latin1'))
          }
          if (a.finished) out.push({ got: writer.finish(), want: Buffer.concat(want) })
          // Some answers out are released (each once), in any order.
          for (const pick of release) {
            if (out.length === 0) break
            const [done] = out.splice(pick % out.length, 1)
            if (done) writer.release(done.got)
          }
          // Checked after every step: a slice overwritten while still out fails here.
          for (const { got, want: bytes } of out) assert.deepEqual(got, bytes)
        }
      },
    ),
  )
})

test('a block whose answers are all released is written again: the current one from its start, others as spares', () => {
  const writer = new AnswerWriter(1024)
  const a = writer.reset().ascii('first').finish()
  const b = writer.reset().ascii('second').finish()
  writer.release(a)
  const c = writer.reset().ascii('third').finish()
  assert.notEqual(c.byteOffset, 0, 'b is still out: the block goes on after it')
  writer.release(b)
  writer.release(c)
  const d = writer.reset().ascii('fourth').finish()
  assert.equal(d.buffer, a.buffer, 'the same block')
  assert.equal(d.byteOffset, 0, 'from its start')
  // Fill the block with answers still out, then release them after it was left for a new one.
  const held = [d]
  while (held.at(-1)?.buffer === a.buffer) held.push(writer.reset().bytes(Buffer.alloc(200, 1)).finish())
  const next = held.pop() as Buffer
  assert.notEqual(next.buffer, a.buffer)
  for (const h of held) writer.release(h)
  while (writer.reset().bytes(Buffer.alloc(200, 2)).finish().buffer === next.buffer) {}
  const after = writer.reset().ascii('spare').finish()
  assert.equal(after.buffer, a.buffer, 'the emptied block came back as a spare')
  assert.equal(next.readUInt8(0), 1, 'the answer still out was not written over')
  writer.release(Buffer.from('not from this writer'))
  assert.equal(writer.reset().ascii('last').finish().buffer, a.buffer, 'a foreign buffer changes nothing')
})

test('a burst of answers out at once over many blocks takes no new memory the next time, once they are released', () => {
  const writer = new AnswerWriter(1024)
  // Answers of 400 bytes: two per block, so 30 answers out at once hold 15 blocks.
  const burst = () => Array.from({ length: 30 }, () => writer.reset().bytes(Buffer.alloc(400, 3)).finish())
  const first = burst()
  const blocks = new Set(first.map((a) => a.buffer))
  assert.equal(blocks.size, 15)
  for (const a of first) writer.release(a)
  const second = burst()
  assert.ok(
    second.every((a) => blocks.has(a.buffer)),
    'every answer of the second burst was written in a block of the first',
  )
})
