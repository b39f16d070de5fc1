import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import formbody from '@fastify/formbody'
import Fastify from 'fastify'

/*
 * The signed floor: what merely sending an allocation answer costs. A plain Fastify route (same body
 * parsing as Allot) that answers a captured allocation answer as bytes, after one HMAC-SHA256 per item
 * over that item's payload claims, as Allot signs each item. Allot cannot answer for less.
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
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
console.log(`floor: ${items.length} items, ${body.length} bytes`)
