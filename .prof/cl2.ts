import { startOwnRedisCluster } from '../test/helpers/redis-cluster.js'
import { Redis } from 'ioredis'
const t0 = Date.now()
const c = await startOwnRedisCluster()
console.log('ready in', Date.now() - t0)
for (const p of c.ports) { const r = new Redis({port:p}); console.log(p, JSON.stringify(await r.role()).slice(0,80)); r.disconnect() }
await c.close()
