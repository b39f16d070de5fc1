import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type ActivityItem, Registrations } from '../../src/domain/device.js'
import { redisChannel } from '../../src/infra/redis/pubsub.js'
import { openRedis, type RedisClient, type RedisConnection } from '../../src/infra/redis/redis.js'
import { createRedisDeviceCache } from '../../src/repositories/redis-device-cache.repository.js'
import { createRedisOnce } from '../../src/repositories/redis-once.repository.js'
import { createDeviceCache } from '../../src/services/device-cache.service.js'
import type { DeviceSource } from '../../src/services/ports/devices.ports.js'
import { createManualScheduler } from '../helpers/manual-timers.js'
import { redisDeployments } from '../helpers/redis-cluster.js'

const NOW = Date.UTC(2026, 10, 25, 3)
const imp = (campaign_id: number, at = NOW): ActivityItem => ({ type: 'impression', campaign_id, at })
const record = (activity: ActivityItem[] = []) => ({
  profile: { device_id: 5, category_scores: { 뉴스: 1.5 }, updated_at: 10 },
  registrations: new Registrations(),
  activity,
})
const until = async (check: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10))
}

/**
 * `conn` with its first `command` on the command connection or the subscriber failing (what a timeout or a
 * subscriber connection ending mid-command does); everything else goes to the real connection.
 */
function failingOnce(
  conn: RedisConnection,
  on: 'client' | 'subscriber',
  command: 'publish' | 'subscribe',
): RedisConnection {
  let failed = false
  const wrap = (client: RedisClient) =>
    new Proxy(client, {
      get(target, key) {
        if (key === command && !failed)
          return () => {
            failed = true
            return Promise.reject(new Error(`${command} failed (injected)`))
          }
        const value = Reflect.get(target, key, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  const subscriber = on === 'subscriber' ? wrap(conn.subscriber()) : conn.subscriber()
  return { ...conn, client: on === 'client' ? wrap(conn.client) : conn.client, subscriber: () => subscriber }
}

const deployments = await redisDeployments()

for (const deployment of deployments)
  describe(`shared device cache, once-keys and invalidation bus: ${deployment.name}`, {
    skip: deployment.skip,
  }, () => {
    let a: RedisConnection
    let b: RedisConnection
    const redis = { prefix: '', url: '', cluster: false, stop: async () => {} }
    before(async () => {
      const started = await deployment.start()
      Object.assign(redis, started)
      const settings = { urls: started.url.split(','), cluster: started.cluster, timeoutMs: 1000 }
      a = await openRedis(settings)
      b = await openRedis(settings)
    })
    after(async () => {
      await Promise.all([a?.close(), b?.close()])
      await redis.stop()
    })
    const device = () => Math.floor(Math.random() * 2 ** 40)

    test('a miss reads undefined; a fill with the stamp read before it lands and reads back whole', async () => {
      const cache = createRedisDeviceCache(a.client, redis.prefix, 60_000)
      const d = device()
      const miss = await cache.read(d)
      assert.equal(miss.record, undefined)
      await cache.fill(d, record([imp(1, NOW - 5), { type: 'click', campaign_id: 2, at: NOW }]), miss.stamp)
      const hit = await cache.read(d)
      assert.deepEqual(hit.record, record([imp(1, NOW - 5), { type: 'click', campaign_id: 2, at: NOW }]))
    })

    test('a fill does not land when the device changed after its stamp was read (no stale overwrite)', async () => {
      const cache = createRedisDeviceCache(a.client, redis.prefix, 60_000)
      const d = device()
      const { stamp } = await cache.read(d)
      await cache.invalidate(d) // another process wrote in between
      await cache.fill(d, record(), stamp)
      assert.equal((await cache.read(d)).record, undefined)
    })

    test('appended activity is seen by another connection; invalidate drops the record', async () => {
      const writer = createRedisDeviceCache(a.client, redis.prefix, 60_000)
      const reader = createRedisDeviceCache(b.client, redis.prefix, 60_000)
      const d = device()
      await writer.fill(d, record([imp(1)]), (await writer.read(d)).stamp)
      await Promise.all([writer.appendActivity(d, imp(2)), reader.appendActivity(d, imp(3))])
      const ids = (await reader.read(d)).record?.activity.map((i) => i.campaign_id).sort()
      assert.deepEqual(ids, [1, 2, 3])
      await reader.invalidate(d)
      assert.equal((await writer.read(d)).record, undefined)
    })

    test('the reads of one turn (one script on a server, one per device in a cluster) each answer their own device', async () => {
      const writer = createRedisDeviceCache(a.client, redis.prefix, 60_000)
      const reader = createRedisDeviceCache(b.client, redis.prefix, 60_000)
      const [hit, other, miss] = [device(), device(), device()]
      await writer.fill(hit, record([imp(1)]), (await writer.read(hit)).stamp)
      await writer.fill(other, record([imp(2), imp(3)]), (await writer.read(other)).stamp)
      await writer.rememberRegistration(hit, 1001, 500)
      await writer.rememberRegistration(other, 1002, 700)
      await writer.invalidate(miss)
      const [h, o, m, again] = await Promise.all([
        reader.read(hit),
        reader.read(other),
        reader.read(miss),
        reader.read(hit),
      ])
      assert.deepEqual(h.record?.activity, [imp(1)])
      assert.deepEqual(h.record?.registrations, new Registrations([[1001, 500]]))
      assert.deepEqual(o.record?.activity, [imp(2), imp(3)])
      assert.deepEqual(o.record?.registrations, new Registrations([[1002, 700]]))
      assert.equal(m.record, undefined)
      assert.equal(m.stamp, '1') // invalidated once: its stamp moved
      assert.deepEqual(again, h)
    })

    test('the writes of one turn (one script on a server, one per write in a cluster) each land as they would alone', async () => {
      const writer = createRedisDeviceCache(a.client, redis.prefix, 60_000)
      const reader = createRedisDeviceCache(b.client, redis.prefix, 60_000)
      const [first, second, stale, noted] = [device(), device(), device(), device()]
      const stamps = await Promise.all([first, second, stale].map(async (d) => (await writer.read(d)).stamp))
      await reader.invalidate(stale) // another process wrote after its stamp was read
      await Promise.all([
        writer.fill(first, record([imp(1), imp(2)]), stamps[0] as string),
        writer.rememberRegistration(noted, 1001, 500),
        writer.fill(stale, record([imp(9)]), stamps[2] as string),
        writer.rememberRegistration(first, 1002, 600),
        writer.fill(second, record(), stamps[1] as string),
        writer.rememberRegistration(noted, 1001, 900),
        writer.rememberRegistration(noted, 1003, 700),
      ])
      const [f, s, st, n] = await Promise.all([
        reader.read(first),
        reader.read(second),
        reader.read(stale),
        reader.read(noted),
      ])
      assert.deepEqual(f.record, {
        ...record([imp(1), imp(2)]),
        registrations: new Registrations([[1002, 600]]),
      })
      assert.deepEqual(s.record, record())
      assert.equal(st.record, undefined, 'the fill with a stamp that moved did not land')
      assert.equal(n.record, undefined, 'a registration note alone is no record')
      await writer.fill(noted, record(), n.stamp)
      assert.deepEqual(
        (await reader.read(noted)).record?.registrations,
        new Registrations([
          [1001, 500],
          [1003, 700],
        ]),
      )
      const ttl = await a.client.pttl(`${redis.prefix}{d${second}}:rec`)
      assert.ok(ttl > 0 && ttl <= 60_000, `pttl ${ttl}`)
    })

    test('appending to a device that is not cached creates nothing', async () => {
      const cache = createRedisDeviceCache(a.client, redis.prefix, 60_000)
      const d = device()
      await cache.appendActivity(d, imp(1))
      assert.equal((await cache.read(d)).record, undefined)
    })

    test('appends of one turn (one script on a server, one per device in a cluster) land in order on the cached devices only', async () => {
      const writer = createRedisDeviceCache(a.client, redis.prefix, 60_000)
      const reader = createRedisDeviceCache(b.client, redis.prefix, 60_000)
      const cached = [device(), device(), device()]
      const uncached = device()
      for (const d of cached) await writer.fill(d, record([imp(1)]), (await writer.read(d)).stamp)
      const stamps = await Promise.all(cached.map(async (d) => (await reader.read(d)).stamp))
      await Promise.all([
        ...cached.map((d, i) => writer.appendActivity(d, imp(10 + i))),
        writer.appendActivity(cached[0] as number, { type: 'click', campaign_id: 20, at: NOW + 1 }),
        writer.appendActivity(uncached, imp(30)),
      ])
      const read = await Promise.all(cached.map((d) => reader.read(d)))
      assert.deepEqual(
        read.map((r) => r.record?.activity.map((i) => `${i.type}${i.campaign_id}`)),
        [
          ['impression1', 'impression10', 'click20'],
          ['impression1', 'impression11'],
          ['impression1', 'impression12'],
        ],
      )
      // Each device's stamp moved, so a fill computed before the appends cannot land over them.
      for (const [i, r] of read.entries()) assert.notEqual(r.stamp, stamps[i])
      assert.equal((await reader.read(uncached)).record, undefined)
    })

    test('once-keys: the claims of one turn, a key twice among them, each answered as SET NX would; another process sees them', async () => {
      const first = createRedisOnce(a.client, redis.prefix)
      const second = createRedisOnce(b.client, redis.prefix)
      const k = () => `clk:${device()}:1:2`
      const [x, y, z] = [k(), k(), k()]
      const claimed = await Promise.all([
        first.claim(x, 60_000),
        first.claim(y, 60_000),
        first.claim(x, 60_000),
        second.claim(z, 60_000),
      ])
      assert.deepEqual(claimed, [true, true, false, true])
      assert.deepEqual(await Promise.all([second.claim(x, 60_000), second.claim(y, 60_000)]), [false, false])
      assert.equal(await first.claim(z, 60_000), false)
    })

    test('once-keys with Redis gone: every claim of the turn rejects (the once guard then decides in memory)', async () => {
      const gone = await openRedis({ urls: redis.url.split(','), cluster: redis.cluster, timeoutMs: 1000 })
      await gone.close()
      const once = createRedisOnce(gone.client, redis.prefix)
      const claims = [once.claim(`clk:${device()}:a`, 60_000), once.claim(`clk:${device()}:b`, 60_000)]
      for (const claim of claims) await assert.rejects(claim)
    })

    test('once-keys expire with their own ttl, each in a turn with others', async () => {
      const once = createRedisOnce(a.client, redis.prefix)
      const short = `clk:${device()}:short`
      const long = `clk:${device()}:long`
      assert.deepEqual(await Promise.all([once.claim(short, 50), once.claim(long, 60_000)]), [true, true])
      await new Promise((r) => setTimeout(r, 120))
      assert.deepEqual(await Promise.all([once.claim(short, 50), once.claim(long, 60_000)]), [true, false])
    })

    test('registrations are kept beside the record, first one wins, and survive invalidation', async () => {
      const cache = createRedisDeviceCache(a.client, redis.prefix, 60_000)
      const d = device()
      await cache.fill(d, record(), (await cache.read(d)).stamp)
      await cache.rememberRegistration(d, 1001, 500)
      await cache.rememberRegistration(d, 1001, 900)
      assert.deepEqual((await cache.read(d)).record?.registrations, new Registrations([[1001, 500]]))
      await cache.invalidate(d)
      await cache.fill(d, record(), (await cache.read(d)).stamp)
      assert.deepEqual((await cache.read(d)).record?.registrations, new Registrations([[1001, 500]]))
    })

    test('a record expires with its ttl', async () => {
      const cache = createRedisDeviceCache(a.client, redis.prefix, 100)
      const d = device()
      await cache.fill(d, record([imp(1)]), (await cache.read(d)).stamp)
      assert.ok((await cache.read(d)).record, 'cached at first')
      await until(async () => (await cache.read(d)).record === undefined)
      assert.equal((await cache.read(d)).record, undefined, 'gone once Redis expired it')
    })

    test('a registration note expires too: Redis never keeps a key per device forever', async () => {
      const cache = createRedisDeviceCache(a.client, redis.prefix, 60_000)
      const d = device()
      await cache.rememberRegistration(d, 1001, 500)
      const ttl = await a.client.pttl(`${redis.prefix}{d${d}}:reg`)
      assert.ok(ttl > 0 && ttl <= 60_000, `pttl ${ttl}`)
    })

    test('a message published by one process reaches the others, not itself', async () => {
      const name = `${redis.prefix}test-bus`
      const one = redisChannel(a, name)
      const two = redisChannel(b, name)
      const gotOne: string[] = []
      const gotTwo: string[] = []
      one.subscribe((m) => gotOne.push(m))
      two.subscribe((m) => gotTwo.push(m))
      await until(async () => {
        await one.publish('ping')
        return gotTwo.length > 0
      })
      assert.ok(gotTwo.includes('ping'))
      assert.deepEqual(gotOne, [])
    })

    test('onSubscribed says when the subscription is in place: a message sent from then on arrives; again after a reconnection', async () => {
      const name = `${redis.prefix}test-resync`
      const one = redisChannel(a, name)
      const two = redisChannel(b, name)
      const got: string[] = []
      let subscribed = 0
      two.subscribe(
        (m) => got.push(m),
        () => subscribed++,
      )
      await until(async () => subscribed === 1)
      assert.equal(subscribed, 1, 'told once the subscription is in place')
      await one.publish('first')
      await until(async () => got.includes('first'))
      assert.deepEqual(got, ['first'], 'the first message after onSubscribed, not a retry, arrives')
      // The subscriber's connection drops and comes back: onSubscribed again, and messages flow again.
      b.subscriber().disconnect(true)
      await until(async () => subscribed === 2)
      assert.equal(subscribed, 2, 'told again after the reconnection')
      await until(async () => {
        await one.publish('again')
        return got.includes('again')
      })
      assert.ok(got.includes('again'), 'messages arrive again')
    })

    test('a subscription lost without a word (the connection lives, the channel is gone) is found by the probe and made again', async () => {
      const name = `${redis.prefix}test-silent-loss`
      const one = redisChannel(a, name)
      const got: string[] = []
      let subscribed = 0
      redisChannel(b, name).subscribe(
        (m) => got.push(m),
        () => subscribed++,
      )
      await until(() => subscribed === 1)
      // What ioredis' cluster client can leave behind: a live subscriber connection without the channel.
      await b.subscriber().unsubscribe(name)
      await one.publish('missed')
      // Found within two probes: subscribed again, and the resync reads again what was missed.
      for (let i = 0; i < 50 && subscribed < 2; i++) await new Promise((r) => setTimeout(r, 100))
      assert.ok(subscribed >= 2, 'resynced after the probe did not come back')
      await until(async () => {
        await one.publish('after')
        return got.includes('after')
      })
      assert.ok(got.includes('after'), 'messages arrive again')
      assert.ok(!got.includes(''), 'probes never reach the handlers')
    })

    test('a SUBSCRIBE that fails is sent again: the subscription holds and messages arrive', async () => {
      const name = `${redis.prefix}test-subscribe-retry`
      const got: string[] = []
      let subscribed = 0
      redisChannel(failingOnce(b, 'subscriber', 'subscribe'), name).subscribe(
        (m) => got.push(m),
        () => subscribed++,
      )
      await until(() => subscribed === 1)
      assert.equal(subscribed, 1, 'subscribed on the second try')
      await redisChannel(a, name).publish('after')
      await until(() => got.includes('after'))
      assert.deepEqual(got, ['after'])
    })

    test('a PUBLISH that Redis fails is sent again up to publishTries', async () => {
      const name = `${redis.prefix}test-publish-retry`
      const got: string[] = []
      let subscribed = 0
      redisChannel(b, name).subscribe(
        (m) => got.push(m),
        () => subscribed++,
      )
      await until(() => subscribed === 1)
      await assert.rejects(redisChannel(failingOnce(a, 'client', 'publish'), name).publish('lost'))
      await redisChannel(failingOnce(a, 'client', 'publish'), name, { publishTries: 3 }).publish('kept')
      await until(() => got.includes('kept'))
      assert.deepEqual(got, ['kept'], 'the retried message arrives; the one tried once is lost')
    })

    /** Two device caches on one store (a map) and this Redis, as two Allot processes have them. */
    function twoProcesses() {
      const activity = new Map<number, ActivityItem[]>()
      let sourceReads = 0
      const source: DeviceSource = {
        getProfile: async () => {
          sourceReads++
          return undefined
        },
        putProfile: async () => {},
        registerDevice: async (_d, _u, at) => at,
        recordActivities: async (items) => {
          for (const { deviceId: d, item } of items) activity.set(d, [...(activity.get(d) ?? []), item])
        },
        listActivity: async (d) => activity.get(d) ?? [],
        loadDevice: async (d) => {
          sourceReads++
          return { profile: undefined, registrations: new Registrations(), activity: activity.get(d) ?? [] }
        },
      }
      const channel = `${redis.prefix}devices`
      // Each process's subscriptions in place, and drops sent and received: a test can wait until both
      // processes listen and every drop sent has landed. Only drops of devices this pair wrote are counted:
      // the channel is the describe's, and an earlier test's drop can reach these subscribers late (a
      // cluster carries a PUBLISH to the other nodes over its bus; CI saw one land in the next test).
      const ours = new Set<number>()
      const drops: Record<'subscribed' | 'sent' | 'received', [number, number]> = {
        subscribed: [0, 0],
        sent: [0, 0],
        received: [0, 0],
      }
      const make = (conn: RedisConnection, p: 0 | 1) => {
        const bus = redisChannel(conn, channel)
        return createDeviceCache({
          source,
          shared: createRedisDeviceCache(conn.client, redis.prefix, 60_000),
          bus: {
            publish: (d) => {
              ours.add(d)
              drops.sent[p]++
              return bus.publish(String(d))
            },
            subscribe: (h, onSubscribed) =>
              bus.subscribe(
                (m) => {
                  if (ours.has(Number(m))) drops.received[p]++
                  h(Number(m))
                },
                () => {
                  onSubscribed?.()
                  drops.subscribed[p]++
                },
              ),
          },
          clock: () => NOW,
          scheduler: createManualScheduler(NOW).scheduler,
          maxDevices: 100,
          ttlMs: 60_000,
        })
      }
      return { p1: make(a, 0), p2: make(b, 1), sourceReads: () => sourceReads, drops }
    }

    test('two processes with Redis: one records an event, the other allocates on fresh activity at once', async () => {
      const { p1, p2, sourceReads } = twoProcesses()
      const d = device()
      await p1.load(d, 1001, NOW)
      await p2.load(d, 1001, NOW)
      assert.equal(sourceReads(), 1, 'the second process found the device in Redis')
      await p1.recordActivity(d, imp(42))
      await until(async () => (await p2.load(d, 1001, NOW)).activity.length === 1)
      assert.deepEqual((await p2.load(d, 1001, NOW)).activity, [imp(42)])
    })

    test("a subscription lost without a word: the drops sent meanwhile were missed, so the process's copies all go once the probe finds it", async () => {
      const { p1, p2, drops } = twoProcesses()
      await until(() => drops.subscribed[0] > 0 && drops.subscribed[1] > 0)
      const d = device()
      await p1.load(d, 1001, NOW)
      await p2.load(d, 1001, NOW)
      // A first write reaches p2: its subscription is in place. Every drop p1 sent has landed before p2
      // caches its copy again (a drop landing later would take the copy away, and the test would prove nothing).
      await p1.recordActivity(d, imp(6))
      await until(() => drops.received[1] === drops.sent[0])
      assert.deepEqual((await p2.load(d, 1001, NOW)).activity, [imp(6)])
      // p2's subscriber connection lives on without the channel (what ioredis' cluster client can leave).
      await b.subscriber().unsubscribe(`${redis.prefix}devices`)
      await p1.recordActivity(d, imp(7))
      await new Promise((r) => setTimeout(r, 300))
      assert.deepEqual(
        (await p2.load(d, 1001, NOW)).activity,
        [imp(6)],
        'the drop was missed: p2 kept its copy',
      )
      // Found within two probes (about 3 s); p2 then drops its copies and reads the shared one.
      for (let i = 0; i < 60 && (await p2.load(d, 1001, NOW)).activity.length === 1; i++)
        await new Promise((r) => setTimeout(r, 100))
      assert.deepEqual((await p2.load(d, 1001, NOW)).activity, [imp(6), imp(7)], 'the missed write is seen')
    })

    test('a cap check reads the store, not Redis: a failover that lost the last append of the shared copy does not hide an impression', async () => {
      const { p1, p2 } = twoProcesses()
      const d = device()
      await p1.load(d, 1001, NOW)
      await p2.load(d, 1001, NOW)
      await p1.recordActivity(d, imp(42), { now: true })
      // The promoted replica never got that append: the shared copy is as it was before it (the fleet run's
      // Redis master kill). The device's copy is still there, only without the impression.
      await a.client.rpop(`${redis.prefix}{d${d}}:act`)
      await a.client.decr(`${redis.prefix}{d${d}}:st`)
      assert.ok((await createRedisDeviceCache(b.client, redis.prefix, 60_000).read(d)).record, 'still cached')
      assert.deepEqual(
        await p2.freshActivity(d),
        [imp(42)],
        'the capped impression is seen by the other process',
      )
    })
  })
