import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { TestApp } from './test-app.js'
import { assertWire, V1Allocation, type V1ItemType } from './v1-wire.js'

/*
 * A v1 lockscreen SDK as the field runs it (docs/architecture.md §8), written from the contract and not from
 * Allot's code: form-encoded bodies, the `__placeholders__` of click and impression URLs substituted, the
 * check computed as the SDK computes it, payloads echoed back untouched.
 */

/** The base URL tests configure as PUBLIC_BASE_URL. */
export const PUBLIC_BASE_URL = 'https://allot.test'

/** A form body as the Android SDK sends it. */
export function formBody(fields: Record<string, string | number | undefined>): string {
  const out = new URLSearchParams()
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out.append(k, String(v))
  return out.toString()
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** What a device knows about itself (the SDK sends these with every call). */
export type Device = {
  device_id: number
  ifa: string
  unit_device_token: string
  unit_id: number
  app_id: number
  sdk_version?: number
}

/** The SDK's `check` (docs/architecture.md §W7.2). */
export function sdkCheck(f: {
  device_id: number | string
  ifa: string
  unit_device_token: string
  app_id: number | string
  campaign_id: number | string
  campaign_type: string
  campaign_name: string
  campaign_owner_id: string
  campaign_is_media: number | string
  slot: number | string
  reward: number | string
  base_reward: number | string
}): string {
  const source = [
    'buz',
    f.device_id,
    f.ifa,
    f.unit_device_token,
    f.app_id,
    f.campaign_id,
    f.campaign_type,
    f.campaign_name,
    f.campaign_owner_id,
    f.campaign_is_media,
    f.slot,
    f.reward,
    f.base_reward,
  ].join(':')
  return createHash('md5').update(source).digest('hex')
}

/** The local hour the SDK reports as `slot` (it uses the device's clock). */
export const currentHour = (at: number, timezone = 'Asia/Seoul') =>
  Number(
    new Intl.DateTimeFormat('en-US', { timeZone: timezone, hour: 'numeric', hourCycle: 'h23' }).format(at),
  )

/** An HTTP answer, as both `app.inject` and a real request give it. */
export type Answer = {
  statusCode: number
  headers: Record<string, string | string[] | number | undefined>
  body: string
  json(): // biome-ignore lint/suspicious/noExplicitAny: tests read answers loosely, then check their shape
  any
}
/** Sends one request to Allot: in process (`app.inject`) or over a real socket. */
export type Send = (method: 'GET' | 'POST', path: string, form?: string) => Promise<Answer>

/** Sends through `app.inject`. */
export function viaInject(t: TestApp): Send {
  return (method, path, form) =>
    t.app.inject({ method, url: path, ...(form === undefined ? {} : { headers: FORM, payload: form }) })
}

/** Sends over HTTP to a running server at `origin` (redirects are not followed). */
export function viaHttp(origin: string): Send {
  return async (method, path, form) => {
    const res = await fetch(`${origin}${path}`, {
      method,
      redirect: 'manual',
      ...(form === undefined ? {} : { headers: FORM, body: form }),
    })
    const body = await res.text()
    return {
      statusCode: res.status,
      headers: Object.fromEntries(res.headers),
      body,
      json: () => JSON.parse(body),
    }
  }
}

/** The SDK of `device` on the demo unit (1001, app 1), named as the tests name devices: ifa-N, user-N. */
export const demoPhone = (target: TestApp | Send, device: number) =>
  sdk(target, {
    device_id: device,
    ifa: `ifa-${device}`,
    unit_device_token: `user-${device}`,
    unit_id: 1001,
    app_id: 1,
  })

/** The SDK, bound to one Allot (a test app, or any `Send`) and one device. */
export function sdk(target: TestApp | Send, device: Device, clock: () => number = Date.now) {
  const send = typeof target === 'function' ? target : viaInject(target)
  const common = () => ({
    device_id: device.device_id,
    ifa: device.ifa,
    unit_device_token: device.unit_device_token,
  })

  async function allocate(fields: Record<string, string | number | undefined> = {}): Promise<Answer> {
    return send(
      'POST',
      '/api/allocation/',
      formBody({
        unit_id: device.unit_id,
        app_id: device.app_id,
        ...common(),
        sdk_version: device.sdk_version ?? 3000,
        timezone: 'Asia/Seoul',
        country: 'KR',
        ...fields,
      }),
    )
  }

  /** Allocates and checks the answer's v1 shape; returns the items. */
  async function pool(fields: Record<string, string | number | undefined> = {}): Promise<V1ItemType[]> {
    const res = await allocate(fields)
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json()
    assertWire(V1Allocation, body, 'allocation answer')
    return body.campaigns
  }

  /** The unlock as the SDK sends it after the user unlocked through `item`; `reward` is what it claims. */
  function unlockForm(
    item: V1ItemType,
    claim: { reward?: number; base_reward?: number; slot?: number } = {},
  ) {
    const base = claim.base_reward ?? item.base_reward
    const fields = {
      app_id: device.app_id,
      unit_id: device.unit_id,
      ...common(),
      reward: claim.reward ?? item.unlock_reward + base,
      base_reward: base,
      click_campaign_id: item.id,
      click_campaign_type: item.type,
      click_campaign_name: item.name,
      click_campaign_owner_id: String(item.owner_id),
      click_campaign_is_media: item.is_media ? 1 : 0,
      click_type: 'u',
      slot: claim.slot ?? currentHour(clock()),
      click_campaign_payload: item.payload,
    }
    return {
      ...fields,
      check: sdkCheck({
        ...fields,
        campaign_id: fields.click_campaign_id,
        campaign_type: fields.click_campaign_type,
        campaign_name: fields.click_campaign_name,
        campaign_owner_id: fields.click_campaign_owner_id,
        campaign_is_media: fields.click_campaign_is_media,
      }),
    }
  }

  async function unlock(
    item: V1ItemType,
    claim: { reward?: number; base_reward?: number; slot?: number } = {},
    edit: (form: Record<string, string | number>) => Record<string, string | number> = (f) => f,
    path = '/api/impression/',
  ): Promise<Answer> {
    return send('POST', path, formBody(edit(unlockForm(item, claim))))
  }

  /**
   * Opens an item's click_url as the SDK does: placeholders substituted (values URL-encoded), the check
   * computed from the URL's own fields. Returns the answer and the path asked.
   */
  function landingPath(
    item: V1ItemType,
    claim: { reward?: number; base_reward?: number; slot?: number; clean?: boolean; token?: string } = {},
  ): string {
    const url = new URL(item.click_url)
    assert.equal(url.pathname, '/api/click_redirect/', item.click_url)
    const q = url.searchParams
    const base = claim.base_reward ?? item.base_reward
    const values: Record<string, string> = {
      __reward__: String(claim.reward ?? item.landing_reward + base),
      __base_reward__: String(base),
      __slot__: String(claim.slot ?? currentHour(clock())),
      __campaign_payload__: item.payload,
      __unit_device_token__: claim.token ?? device.unit_device_token,
      __place__: 'lockscreen',
      __position__: '3',
      __session_id__: 'session-1',
      __use_clean_mode__: claim.clean ? '1' : '0',
    }
    const filled = (v: string | null) => values[v ?? ''] ?? v ?? ''
    const check = sdkCheck({
      device_id: filled(q.get('device_id')),
      ifa: filled(q.get('ifa')),
      unit_device_token: filled(q.get('client_unit_device_token')),
      app_id: filled(q.get('app_id')),
      campaign_id: filled(q.get('campaign_id')),
      campaign_type: filled(q.get('campaign_type')),
      campaign_name: filled(q.get('campaign_name')),
      campaign_owner_id: filled(q.get('campaign_owner_id')),
      campaign_is_media: filled(q.get('campaign_is_media')),
      slot: filled(q.get('slot')),
      reward: filled(q.get('reward')),
      base_reward: filled(q.get('base_reward')),
    })
    values.__check__ = check
    // The SDK replaces the literal tokens in the URL text.
    let text = item.click_url.slice(url.origin.length)
    for (const [token, value] of Object.entries(values))
      text = text.replaceAll(token, encodeURIComponent(value))
    return text
  }

  async function land(item: V1ItemType, claim: Parameters<typeof landingPath>[1] = {}): Promise<Answer> {
    return send('GET', landingPath(item, claim))
  }

  /** Fires the item's first impression URL (Allot's beacon) with its placeholders substituted. */
  async function impress(item: V1ItemType): Promise<Answer> {
    const url = new URL(item.impression_urls?.[0] ?? '')
    assert.equal(url.pathname, '/api/content_impression/')
    const path = `${url.pathname}${url.search}`
      .replace('__place__', 'lockscreen')
      .replace('__position__', '1')
      .replace('__session_id__', 'session-1')
    return send('GET', path)
  }

  /**
   * `POST /api/rewards` after a stay on the item's landing page (SDK-CONTRACT §9): the landing reward the SDK
   * held back when it landed with a claim of 0.
   */
  async function stayReward(item: V1ItemType, claim: { slot?: number } = {}): Promise<Answer> {
    const fields = {
      app_id: device.app_id,
      unit_id: device.unit_id,
      ...common(),
      type: 'imp',
      campaign_id: item.id,
      campaign_type: item.type,
      campaign_name: item.name,
      campaign_owner_id: String(item.owner_id),
      campaign_is_media: item.is_media ? 1 : 0,
      slot: claim.slot ?? currentHour(clock()),
      reward: item.landing_reward + item.base_reward,
      base_reward: item.base_reward,
    }
    return send('POST', '/api/rewards', formBody({ ...fields, check: sdkCheck(fields) }))
  }

  return { device, allocate, pool, unlockForm, unlock, landingPath, land, impress, stayReward }
}
