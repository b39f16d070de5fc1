import formbody from '@fastify/formbody'
import Fastify from 'fastify'

// The baseline of every benchmark: a plain Fastify route returning a small JSON object, same process model.
const app = Fastify({ logger: false })
// Same body parsing as Allot, so the ratio measures allocation work, not form parsing.
await app.register(formbody)
app.post('/plain', async () => ({ code: 0, msg: 'ok', hello: 'world' }))
app.get('/plain', async () => ({ code: 0, msg: 'ok', hello: 'world' }))
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
console.log(`listening on ${(app.server.address() as { port: number }).port}`)
