import DataLoader from 'dataloader'
import { Packr } from 'msgpackr'
import { type ActivityItem, type DeviceProfile, Registrations } from '../domain/device.js'
import { type RedisClient, redisCall, sendUnpipelined } from '../infra/redis/redis.js'
import { asError, PER_LOOP_ITERATION } from './loop-batch.js'

/** The cached device record (the device cache's DeviceRecord, declared here structurally). */
type CachedDevice = {
  profile: DeviceProfile | null
  registrations: Registrations
  activity: ActivityItem[]
}

/*
 * Per device, keys sharing one hash slot (Redis Cluster safe):
 *   {d<id>}:rec  msgpack of the profile                        (PX ttl)
 *   {d<id>}:act  list of "i<campaign>:<at>" / "c<campaign>:<at>" (same ttl as rec)
 *   {d<id>}:st   change stamp, INCR'd by every write; a fill only lands if it has not moved
 *   {d<id>}:reg  hash unit id → first registration time (first wins, never changes; same ttl as rec)
 */
// The reads of many devices at once: KEYS are each device's rec, act, st and reg, and the answer is one
// {rec or '', activity, stamp, registrations} per device, in order. One script call for a loop iteration's reads
// on a single server; one per device in a cluster (a device's four keys share a slot).
const READ_MANY = `
local out = {}
for i = 1, #KEYS, 4 do
  local rec = redis.call('GET', KEYS[i])
  local stamp = redis.call('GET', KEYS[i + 2]) or ''
  local reg = redis.call('HGETALL', KEYS[i + 3])
  if rec then
    out[#out + 1] = {rec, redis.call('LRANGE', KEYS[i + 1], 0, -1), stamp, reg}
  else
    out[#out + 1] = {'', {}, stamp, reg}
  end
end
return out`

const FILL = `
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
if #ARGV > 3 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 4))
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1`

const APPEND = `
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1`

// APPEND for many devices at once, in order: KEYS are each device's rec, act and st; ARGV the ttl, then an item
// per device. One script call for a loop iteration's appends on a single server (a cluster refuses keys of
// several slots in one script: there, APPEND per device).
const APPEND_MANY = `
for i = 1, #KEYS, 3 do
  redis.call('INCR', KEYS[i + 2])
  redis.call('PEXPIRE', KEYS[i + 2], ARGV[1])
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl > 0 then
    redis.call('RPUSH', KEYS[i + 1], ARGV[(i + 2) / 3 + 1])
    redis.call('PEXPIRE', KEYS[i + 1], ttl)
  end
end
return 1`

// The registration hash expires with the record (the store keeps registrations; this only saves a read).
const REMEMBER = `
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`

const INVALIDATE = `
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[1])
return 1`

// FILL and REMEMBER for many devices at once, in order. ARGV[1] is the ttl; then, per write, 'f', the stamp, the
// blob, the number of items and the items (KEYS: rec, act, st), or 'r', the unit id and the time (KEYS: reg).
// One script call (one socket write) for a loop iteration's writes on a single server; per write in a cluster.
const WRITE_MANY = `
local ttl = ARGV[1]
local k, a = 1, 2
while a <= #ARGV do
  if ARGV[a] == 'f' then
    local n = tonumber(ARGV[a + 3])
    if (redis.call('GET', KEYS[k + 2]) or '') == ARGV[a + 1] then
      redis.call('SET', KEYS[k], ARGV[a + 2], 'PX', ttl)
      redis.call('DEL', KEYS[k + 1])
      if n > 0 then
        redis.call('RPUSH', KEYS[k + 1], unpack(ARGV, a + 4, a + 3 + n))
        redis.call('PEXPIRE', KEYS[k + 1], ttl)
      end
    end
    k = k + 3
    a = a + 4 + n
  else
    redis.call('HSETNX', KEYS[k], ARGV[a + 1], ARGV[a + 2])
    redis.call('PEXPIRE', KEYS[k], ttl)
    k = k + 1
    a = a + 3
  end
end
return 1`

/** A device's part of READ_MANY's answer: its record's blob ('' when missing), activity, stamp, registrations. */
type ReadReply = [Buffer, Buffer[], Buffer, Buffer[]]

type Scripts = {
  /** numkeys, then KEYS (rec, act, st, reg per device). */
  allotDevReadMany(...args: (string | number)[]): Promise<ReadReply[]>
  allotDevFill(rec: string, act: string, st: string, ...args: (string | number | Buffer)[]): Promise<number>
  allotDevAppend(rec: string, act: string, st: string, item: string, ttlMs: number): Promise<number>
  /** numkeys, then KEYS (rec, act, st per device), then ttl and the items. */
  allotDevAppendMany(...args: (string | number)[]): Promise<number>
  allotDevInvalidate(rec: string, act: string, st: string, ttlMs: number): Promise<number>
  allotDevRemember(reg: string, unitId: string, at: string, ttlMs: number): Promise<number>
  /** numkeys, then KEYS (rec, act, st per fill; reg per note), then the ttl and each write's arguments. */
  allotDevWriteMany(...args: (string | number | Buffer)[]): Promise<number>
}

/** Longest activity list written by a fill (the newest items are kept). */
const MAX_ITEMS = 2_000
/** Most appends in one script call (a script blocks the server while it runs: keep each one short). */
const MAX_APPENDS = 256
/** Most devices read by one script call. */
const MAX_READS = 256
/** Most writes (fills, registration notes) in one script call. */
const MAX_WRITES = 128

type DeviceScripts = RedisClient & { allotDevReadManyBuffer: Scripts['allotDevReadMany'] } & Scripts
type DeviceKeys = (deviceId: number) => readonly [rec: string, act: string, st: string, reg: string]

/** The device cache's scripts on `redis` (defined once per client), sent outside the auto-pipeline. */
function deviceScripts(redis: RedisClient): DeviceScripts {
  if (!(redis as unknown as Partial<Scripts>).allotDevReadMany) {
    redis.defineCommand('allotDevReadMany', { lua: READ_MANY })
    redis.defineCommand('allotDevFill', { numberOfKeys: 3, lua: FILL })
    redis.defineCommand('allotDevAppend', { numberOfKeys: 3, lua: APPEND })
    redis.defineCommand('allotDevAppendMany', { lua: APPEND_MANY })
    redis.defineCommand('allotDevInvalidate', { numberOfKeys: 3, lua: INVALIDATE })
    redis.defineCommand('allotDevRemember', { numberOfKeys: 1, lua: REMEMBER })
    redis.defineCommand('allotDevWriteMany', { lua: WRITE_MANY })
    // Reads, writes and appends are batched per loop iteration: sent as they are, all in the order they
    // were made (a command left in the auto-pipeline could be overtaken by one sent straight).
    sendUnpipelined(redis, [
      'allotDevReadMany',
      'allotDevFill',
      'allotDevAppend',
      'allotDevAppendMany',
      'allotDevInvalidate',
      'allotDevRemember',
      'allotDevWriteMany',
    ])
  }
  return redis as unknown as DeviceScripts
}

/**
 * A batch function for a loop iteration's calls of one kind: on a single server `together` sends the batch
 * as one script (one socket write) and answers each call; in a cluster, where a script may not touch keys of
 * several slots, `alone` sends each call on its own. A failure answers the calls it concerns with the error.
 */
function onePerServer<T, R>(
  redis: RedisClient,
  alone: (call: T) => Promise<R>,
  together: (batch: readonly T[]) => Promise<R[]>,
): (batch: readonly T[]) => Promise<(R | Error)[]> {
  return async (batch) => {
    if (redis.isCluster) return Promise.all(batch.map((call) => alone(call).catch(asError)))
    return together(batch).catch((err: unknown) => batch.map(() => asError(err)))
  }
}

/** A fill (a record with the stamp read before it) or a registration note. */
type Write =
  | { deviceId: number; stamp: string; blob: Buffer; items: string[] }
  | { deviceId: number; unitId: number; at: number }

/**
 * Writes that no allocation waits for (fills, registration notes), gathered per loop iteration: one script
 * on a single server, one call per write in a cluster (a script may not touch keys of several slots).
 */
function writeBatcher(redis: RedisClient, scripts: DeviceScripts, keys: DeviceKeys, ttlMs: number) {
  function writeOne(w: Write): Promise<number> {
    const [rec, act, st, reg] = keys(w.deviceId)
    if ('blob' in w) return redisCall(scripts.allotDevFill(rec, act, st, w.stamp, ttlMs, w.blob, ...w.items))
    return redisCall(scripts.allotDevRemember(reg, String(w.unitId), String(w.at), ttlMs))
  }
  return new DataLoader<Write, unknown>(
    onePerServer(redis, writeOne, async (batch) => {
      const keyArgs: string[] = []
      const args: (string | number | Buffer)[] = [ttlMs]
      for (const w of batch) {
        const [rec, act, st, reg] = keys(w.deviceId)
        if ('blob' in w) {
          keyArgs.push(rec, act, st)
          args.push('f', w.stamp, w.blob, w.items.length, ...w.items)
        } else {
          keyArgs.push(reg)
          args.push('r', String(w.unitId), String(w.at))
        }
      }
      const done = await redisCall(scripts.allotDevWriteMany(keyArgs.length, ...keyArgs, ...args))
      return batch.map(() => done)
    }),
    { ...PER_LOOP_ITERATION, maxBatchSize: MAX_WRITES },
  )
}

/** The device cache's shared second level in Redis: one round trip (a script) for the reads of a loop iteration. */
export function createRedisDeviceCache(redis: RedisClient, prefix: string, ttlMs: number) {
  const packr = new Packr({ useRecords: false })
  const scripts = deviceScripts(redis)
  const keys: DeviceKeys = (deviceId) => {
    const base = `${prefix}{d${deviceId}}:`
    return [`${base}rec`, `${base}act`, `${base}st`, `${base}reg`]
  }

  type Read = { record: CachedDevice | undefined; stamp: string }
  // The reads of one loop iteration: one script on a single server, one per device in a cluster.
  const reads = new DataLoader<number, Read>(
    onePerServer(redis, (id) => readMany([id]).then(([read]) => read as Read), readMany),
    { ...PER_LOOP_ITERATION, maxBatchSize: MAX_READS },
  )
  const writes = writeBatcher(redis, scripts, keys, ttlMs)

  // Appends (events' activity) of one loop iteration: one script on a single server, one per device in a cluster.
  type Append = { deviceId: number; item: ActivityItem }
  const appends = new DataLoader<Append, unknown>(
    onePerServer(redis, appendOne, async (batch) => {
      const args: (string | number)[] = [batch.length * 3]
      for (const { deviceId } of batch) {
        const [rec, act, st] = keys(deviceId)
        args.push(rec, act, st)
      }
      args.push(ttlMs)
      for (const { item } of batch) args.push(encodeItem(item))
      const done = await redisCall(scripts.allotDevAppendMany(...args))
      return batch.map(() => done)
    }),
    { ...PER_LOOP_ITERATION, maxBatchSize: MAX_APPENDS },
  )

  function appendOne({ deviceId, item }: Append): Promise<number> {
    const [rec, act, st] = keys(deviceId)
    return redisCall(scripts.allotDevAppend(rec, act, st, encodeItem(item), ttlMs))
  }

  async function readMany(ids: readonly number[]): Promise<Read[]> {
    const args: (string | number)[] = [ids.length * 4]
    for (const id of ids) {
      const [rec, act, st, reg] = keys(id)
      args.push(rec, act, st, reg)
    }
    return (await redisCall(scripts.allotDevReadManyBuffer(...args))).map(decodeRead)
  }

  function decodeRead([blob, items, stamp, regPairs]: ReadReply): Read {
    const registrations = new Registrations()
    for (let i = 0; i + 1 < regPairs.length; i += 2)
      registrations.set(Number(String(regPairs[i])), Number(String(regPairs[i + 1])))
    if (blob.length === 0) return { record: undefined, stamp: String(stamp) }
    const { profile } = packr.unpack(blob) as Pick<CachedDevice, 'profile'>
    return {
      record: { profile, registrations, activity: items.map((b) => decodeItem(String(b))) },
      stamp: String(stamp),
    }
  }

  return {
    read(deviceId: number): Promise<Read> {
      return reads.load(deviceId)
    },

    /** Sent with the loop iteration's other writes (see `writes`); lands only if the stamp has not moved. */
    async fill(deviceId: number, record: CachedDevice, stamp: string): Promise<void> {
      const blob = packr.pack({ profile: record.profile })
      const items = record.activity.slice(-MAX_ITEMS).map(encodeItem)
      await writes.load({ deviceId, stamp, blob, items })
    },

    /** Sent with the loop iteration's other appends (see `appends`); fails as their script does. */
    async appendActivity(deviceId: number, item: ActivityItem): Promise<void> {
      await appends.load({ deviceId, item })
    },

    async invalidate(deviceId: number): Promise<void> {
      const [rec, act, st] = keys(deviceId)
      await redisCall(scripts.allotDevInvalidate(rec, act, st, ttlMs))
    },

    /** Sent with the loop iteration's other writes (see `writes`); the first note of a unit wins. */
    async rememberRegistration(deviceId: number, unitId: number, at: number): Promise<void> {
      await writes.load({ deviceId, unitId, at })
    },
  }
}

function encodeItem(item: ActivityItem): string {
  return `${item.type === 'click' ? 'c' : 'i'}${item.campaign_id}:${item.at}`
}

function decodeItem(text: string): ActivityItem {
  const colon = text.indexOf(':')
  return {
    type: text[0] === 'c' ? 'click' : 'impression',
    campaign_id: Number(text.slice(1, colon)),
    at: Number(text.slice(colon + 1)),
  }
}
