import DataLoader from 'dataloader'
import { type RedisClient, redisCall } from '../infra/redis/redis.js'
import { asError, PER_LOOP_ITERATION } from './loop-batch.js'

/** SET NX PX for each key in order (a key twice: the first claims it); 1 where set, 0 where already there. */
const CLAIM_MANY = `
local claimed = {}
for i = 1, #KEYS do
  claimed[i] = redis.call('SET', KEYS[i], '1', 'PX', ARGV[i], 'NX') and 1 or 0
end
return claimed`

/** Most claims in one script call (a script blocks the server while it runs: keep each one short). */
const MAX_CLAIMS = 256

type Claim = { key: string; ttlMs: number }
type Scripts = { allotOnceClaimMany(...args: (string | number)[]): Promise<number[]> }

/**
 * Once-keys in Redis: SET NX PX, one round trip; the key's own slot in a cluster. The claims of one loop
 * iteration (a batch of landings' clicks) leave as one script call on a single server, which costs the client
 * and the server a small part of a command per claim; a cluster refuses a script over keys of several slots,
 * so there each claim is its own SET, in the same write.
 */
export function createRedisOnce(redis: RedisClient, prefix: string) {
  if (!(redis as unknown as Partial<Scripts>).allotOnceClaimMany)
    redis.defineCommand('allotOnceClaimMany', { lua: CLAIM_MANY })
  const scripts = redis as unknown as Scripts
  const claimOne = async ({ key, ttlMs }: Claim) =>
    (await redisCall(redis.set(`${prefix}once:${key}`, '1', 'PX', ttlMs, 'NX'))) === 'OK'
  const claims = new DataLoader<Claim, boolean>(
    async (batch) => {
      if (redis.isCluster || batch.length === 1)
        return Promise.all(batch.map((c) => claimOne(c).catch(asError)))
      const args: (string | number)[] = [batch.length]
      for (const { key } of batch) args.push(`${prefix}once:${key}`)
      for (const { ttlMs } of batch) args.push(ttlMs)
      try {
        const claimed = await redisCall(scripts.allotOnceClaimMany(...args))
        return batch.map((_, i) => claimed[i] === 1)
      } catch (err) {
        const error = asError(err)
        return batch.map(() => error)
      }
    },
    { ...PER_LOOP_ITERATION, maxBatchSize: MAX_CLAIMS },
  )
  return {
    /** True when this call set the key (the event's first time in `ttlMs`); rejects when Redis fails. */
    claim: (key: string, ttlMs: number): Promise<boolean> => claims.load({ key, ttlMs }),
  }
}
