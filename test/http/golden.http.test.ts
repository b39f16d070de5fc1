import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { deflateSync } from 'node:zlib'
import { type Answer, sdk, viaInject } from '../helpers/sdk.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { startTestApp, type TestApp } from '../helpers/test-app.js'
import type { V1ItemType } from '../helpers/v1-wire.js'

/*
 * Every SDK path's answer, byte for byte, for one fixed sequence of requests over the demo catalog with a
 * fixed clock and a seeded random source: a refactoring that changes any answer fails here. After a change
 * that is meant to alter the wire, regenerate with `UPDATE_GOLDEN=1 node --import tsx --test <this file>`
 * and review the diff of test/golden/sdk-paths.txt.
 */

const GOLDEN = new URL('../golden/sdk-paths.txt', import.meta.url)
const T0 = Date.UTC(2026, 10, 25, 3, 10) // Wednesday 12:10 in Seoul
/** The headers an SDK or the edge reads; the rest (date, request id) varies by design. */
const KEPT = ['content-type', 'location', 'retry-after', 'x-allot-counted', 'x-allot-reward']

/** A small seeded PRNG (mulberry32): the same sequence on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

const [sqlite] = await sqlBackends()

describe('golden answers of every SDK path', () => {
  let t: TestApp
  const transcript: string[] = []
  before(async () => {
    t = await startTestApp(await (sqlite ?? assert.fail('no sqlite')).createDatabaseUrl(), {
      seed: true,
      clock: () => T0,
      random: seeded(20261125),
      env: { POSTBACK_POLL_MS: '600000' },
    })
  })
  after(async () => {
    await t?.close()
    await sqlite?.cleanup()
  })

  /** Sends through the app and writes what came back into the transcript. */
  const record =
    (send: ReturnType<typeof viaInject>) =>
    async (method: 'GET' | 'POST', path: string, form?: string): Promise<Answer> => {
      const res = await send(method, path, form)
      const headers = KEPT.filter((h) => res.headers[h] !== undefined).map((h) => `${h}: ${res.headers[h]}`)
      transcript.push(
        [
          `${method} ${path}`,
          ...(form === undefined ? [] : [form]),
          `${res.statusCode}`,
          ...headers,
          res.body,
        ].join('\n'),
      )
      return res
    }

  test('the transcript equals test/golden/sdk-paths.txt', async () => {
    const send = record(viaInject(t))
    const phone = (device: number, fields: { sdk_version?: number } = {}) =>
      sdk(
        send,
        {
          device_id: device,
          ifa: `ifa-${device}`,
          unit_device_token: `user-${device}`,
          unit_id: 1001,
          app_id: 1,
          ...fields,
        },
        () => T0,
      )
    const korean = phone(42)
    const pool: V1ItemType[] = (
      await korean.allocate({
        sex: 'F',
        year_of_birth: 95,
        language: 'ko',
        region: '서울특별시 관악구',
        device_os: 30,
      })
    ).json().campaigns
    await phone(43, { sdk_version: 1240 }).allocate({ country: 'US' })
    await phone(44, { sdk_version: 1500 }).allocate({
      settings_page_display_ratio: '1:2',
      categories: 'news',
    })
    await send(
      'POST',
      '/api/allocation/',
      JSON.stringify({
        unit_id: 1001,
        device_id: 45,
        ifa: 'i',
        unit_device_token: 'u',
        sdk_version: 3000,
        timezone: 'UTC',
      }),
    )
    await phone(46).allocate({ unit_id: 999 })
    await send('POST', '/api/allocation/', 'unit_id=1001&ifa=x')
    await send(
      'POST',
      '/api/content_allocation/',
      'unit_id=1001&device_id=42&ifa=ifa-42&unit_device_token=user-42&sdk_version=3000',
    )

    await send('GET', '/api/content/config/?device_id=42')
    await send(
      'POST',
      '/api/content/config/',
      'device_id=42&type=channel&config=%7B%22follow%22%3A%221%2C2%2C%22%7D',
    )
    await send('POST', '/api/content/config/', 'device_id=42&type=other&config=x')
    await send('GET', '/api/content/config?device_id=42')
    await send('GET', '/api/content/channels/?ids=1,2,999')
    await send('GET', '/api/content/categories/')
    const apps = encodeURIComponent(deflateSync('com.kakao.talk,com.android.chrome').toString('base64'))
    await send('POST', '/api/update_installed_apps/', `ifa=ifa-42&app_id=1&installed_apps=${apps}`)

    const ad = pool.find((c) => c.is_ad && c.unlock_reward > 0) ?? assert.fail('an ad')
    const content =
      pool.find((c) => !c.is_ad && c.landing_reward > 0) ?? assert.fail('a content with a landing reward')
    await korean.impress(ad)
    await korean.impress(content)
    await korean.unlock(ad)
    await korean.unlock(ad)
    await korean.unlock(content, {}, (f) => f, '/api/unlock')
    await korean.unlock(ad, {}, (f) => ({ ...f, click_campaign_payload: 'forged' }))
    await korean.land(ad)
    await korean.land(ad)
    await korean.land(content, { clean: true })
    await send(
      'GET',
      korean.landingPath(content).replace('/api/click_redirect/', '/api/external/click_redirect/'),
    )
    await send('GET', '/api/content_impression/?data=forged')

    const form = korean.unlockForm(content)
    const stay = new URLSearchParams({
      app_id: '1',
      unit_id: '1001',
      device_id: '42',
      ifa: 'ifa-42',
      unit_device_token: 'user-42',
      type: 'imp',
      campaign_id: String(content.id),
      campaign_type: content.type,
      campaign_name: content.name,
      campaign_owner_id: String(content.owner_id),
      campaign_is_media: String(form.click_campaign_is_media),
      slot: String(form.slot),
      reward: String(content.landing_reward),
      base_reward: '0',
      check: 'not-the-check',
    })
    await send('POST', '/api/rewards', stay.toString())

    const text = `${transcript.join('\n\n----\n\n')}\n`
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, text)
    const golden = readFileSync(GOLDEN, 'utf8')
    const [got, want] = [text.split('\n'), golden.split('\n')]
    const first = got.findIndex((line, i) => line !== want[i])
    assert.ok(
      first < 0 && got.length === want.length,
      `the answers changed from line ${first + 1}:\n  got:  ${got[first]?.slice(0, 300)}\n  want: ${want[first]?.slice(0, 300)}`,
    )
  })
})
