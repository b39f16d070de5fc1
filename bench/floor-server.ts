import { createCipheriv, createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import formbody from '@fastify/formbody'
import Fastify from 'fastify'

/*
 * The floors: what merely sending an allocation answer costs. A plain Fastify route (same body parsing as
 * Allot) that answers a captured allocation answer as bytes, after one cipher call per item:
 * - /floor-aes, the floor of Allot's own answer: one AES-128-ECB call over one 16-byte block per item (Allot
 *   mints its payloads with one cipher call per answer, so this is already generous to the floor);
 * - /floor, the signed floor kept for history: one HMAC-SHA256 per item over that item's payload claims.
 */
const answer = readFileSync(process.env.ANSWER_FILE ?? '', 'utf8')
const items = (JSON.parse(answer) as { campaigns: { payload: string }[] }).campaigns
const claims = items.map((item) => item.payload.split('.')[0] ?? '')
const key = Buffer.from('floor-payload-secret-0123456789-abcdef')
const body = Buffer.from(answer)

const app = Fastify({ logger: false })
await app.register(formbody)
app.post('/floor', async (_request, reply) => {
  let check = 0
  for (const c of claims) check ^= createHmac('sha256', key).update(c).digest()[0] ?? 0
  return reply.header('content-type', 'application/json; charset=utf-8').header('x-check', check).send(body)
})
const aesKey = key.subarray(0, 16)
const blocks = claims.map((c) => Buffer.from(c.padEnd(16, '.').slice(0, 16)))
app.post('/floor-aes', async (_request, reply) => {
  let check = 0
  for (const block of blocks) check ^= createCipheriv('aes-128-ecb', aesKey, null).update(block)[0] ?? 0
  return reply.header('content-type', 'application/json; charset=utf-8').header('x-check', check).send(body)
})
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
console.log(`floor: ${items.length} items, ${body.length} bytes`)
