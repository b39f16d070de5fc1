import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { demoAllocationFields, form, startTestApp, type TestApp } from '../helpers/test-app.js'

// With a fixed clock and random source, two instances seeded alike give a new device the same bytes.
const NOW = Date.UTC(2026, 10, 25, 3, 30)
const dir = mkdtempSync(join(tmpdir(), 'allot-answer-memory-'))
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
/** Pipelined answers of ~40 KB each: more than loopback's send and receive buffers hold together. */
const PIPELINED = 400

const allot = (name: string) =>
  startTestApp(`sqlite:${join(dir, `${name}.sqlite`)}`, { seed: true, clock: () => NOW, random: () => 0.5 })

const request = (device: number) => {
  const body = form(demoAllocationFields(device))
  return `POST /api/allocation/ HTTP/1.1\r\nhost: allot\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
}

/** The whole bodies in a stream of HTTP/1.1 responses with content-length (a partial last one left out). */
function bodies(stream: Buffer): Buffer[] {
  const out: Buffer[] = []
  for (let at = 0; ; ) {
    const end = stream.indexOf('\r\n\r\n', at)
    if (end < 0) return out
    const head = stream.subarray(at, end).toString('latin1')
    assert.match(head, /^HTTP\/1\.1 200 /)
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1])
    if (end + 4 + length > stream.length) return out
    out.push(stream.subarray(end + 4, end + 4 + length))
    at = end + 4 + length
  }
}

after(() => rmSync(dir, { recursive: true, force: true }))

describe('answers written into reused memory', () => {
  let served: TestApp
  let reference: TestApp
  before(async () => {
    served = await allot('served')
    reference = await allot('reference')
    await served.app.listen({ port: 0, host: '127.0.0.1' })
  })
  after(async () => {
    await served?.close()
    await reference?.close()
  })

  test('a client that does not read keeps its answers whole while other clients get theirs from the same memory', async () => {
    const address = served.app.server.address()
    assert.ok(address && typeof address === 'object')
    const port = address.port
    // One connection sends every request at once and reads nothing: the server's writes back up, and the
    // answers in flight stay in the writer's blocks.
    const slow = connect(port, '127.0.0.1')
    await new Promise((resolve) => slow.once('connect', resolve))
    slow.pause()
    const received: Buffer[] = []
    slow.on('data', (chunk: Buffer) => received.push(chunk))
    slow.write(Array.from({ length: PIPELINED }, (_, i) => request(1 + i)).join(''))
    await new Promise((resolve) => setTimeout(resolve, 300))
    // Meanwhile other devices on other connections: hundreds of answers through the same blocks.
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          fetch(`http://127.0.0.1:${port}/api/allocation/`, {
            method: 'POST',
            headers: FORM,
            body: form(demoAllocationFields(10_000 + round * 20 + i)),
          }).then(async (res) => assert.equal(res.status, 200, await res.text())),
        ),
      )
    }
    slow.resume()
    let answers: Buffer[] = []
    for (let i = 0; i < 400 && answers.length < PIPELINED; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      answers = bodies(Buffer.concat(received))
    }
    slow.destroy()
    assert.equal(answers.length, PIPELINED)
    for (const [i, answer] of answers.entries()) {
      const want = await reference.app.inject({
        method: 'POST',
        url: '/api/allocation/',
        payload: form(demoAllocationFields(1 + i)),
        headers: FORM,
      })
      assert.equal(want.statusCode, 200)
      assert.ok(answer.equals(want.rawPayload), `device ${1 + i}: the answer came as written`)
    }
  })
})
