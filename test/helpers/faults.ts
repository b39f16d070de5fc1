import assert from 'node:assert/strict'
import type { LightMyRequestResponse } from 'fastify'
import { type Answer, demoPhone } from './sdk.js'
import { demoAllocationFields, form, type TestApp } from './test-app.js'

/** Runs `work` and says how long it took. */
export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await work()
  return { value, ms: performance.now() - started }
}

/** A form-encoded allocation on the demo unit (only its status is asserted: its fields may change). */
export function allocation(t: TestApp, device: number): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'POST',
    url: '/api/allocation/',
    payload: form(demoAllocationFields(device)),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
}

/**
 * An impression of an ad allocated to `device` (the ad called `name`, if given: a capped ad's beacon must read
 * the device's activity, an uncapped one's needs no store at once), prepared while the stores are healthy; the
 * returned function sends it (to `sendTo`, another process on the same stores, if given). The only place that
 * knows the event request's shape.
 */
export async function prepareImpression(
  t: TestApp,
  device: number,
  sendTo: TestApp = t,
  name?: string,
): Promise<() => Promise<LightMyRequestResponse>> {
  type Item = { is_ad: boolean; name: string; impression_urls?: string[] }
  let item: Item | undefined
  // A capped ad sits out an allocation whose device data missed the deadline (a cold device on a busy
  // machine): the next allocation finds the device loaded.
  for (let attempt = 0; attempt < 5 && !item; attempt++) {
    const res = await allocation(t, device)
    assert.equal(res.statusCode, 200, res.body)
    item = (res.json().campaigns as Item[]).find((c) => c.is_ad && (name === undefined || c.name === name))
  }
  assert.ok(item, `an ad${name ? ` named ${name}` : ''} was allocated`)
  // The SDK fires the item's impression beacon: it counts the impression (SQL) and records activity.
  const beacon = new URL(item.impression_urls?.[0] ?? '')
  return () => sendTo.app.inject({ method: 'GET', url: `${beacon.pathname}${beacon.search}` })
}

/**
 * An event that must reach the store of record before it answers (the unlock reward of an ad allocated to
 * `device`: its grant is one SQL transaction), prepared while the stores are healthy.
 */
export async function prepareUnlock(t: TestApp, device: number): Promise<() => Promise<Answer>> {
  const phone = demoPhone(t, device)
  const item = (await phone.pool()).find((c) => c.is_ad && c.unlock_reward > 0)
  assert.ok(item, 'an ad with an unlock reward was allocated')
  return () => phone.unlock(item)
}

/** A 503 ServiceUnavailable (code 9003) with Retry-After, answered within `withinMs`. */
export function assertUnavailable(
  { value: res, ms }: { value: Pick<Answer, 'statusCode' | 'body' | 'headers' | 'json'>; ms: number },
  withinMs: number,
): void {
  assert.equal(res.statusCode, 503, res.body)
  assert.equal(res.json().code, 9003)
  assert.match(String(res.headers['retry-after']), /^\d+$/, 'Retry-After says when to try again')
  assert.ok(ms < withinMs, `answered in ${Math.round(ms)} ms (limit ${withinMs} ms)`)
}

/** /readyz: 503 within a second, naming the dependency that is down. */
export async function assertNotReady(t: TestApp, dependency: string, state: RegExp): Promise<void> {
  const { value: res, ms } = await timed(() => t.app.inject({ method: 'GET', url: '/readyz' }))
  assert.equal(res.statusCode, 503, res.body)
  assert.match(res.json().checks[dependency], state, res.body)
  assert.ok(ms < 1_000, `/readyz answered in ${Math.round(ms)} ms`)
}

/** Polls `check` until it holds (at most `ms`). */
export async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = performance.now() + ms
  while (performance.now() < until) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return check()
}

/** A capped ad (`tipu` 50) on the demo unit, first in its priority: its beacons check the cap on the device. */
export async function addCappedAd(t: TestApp): Promise<void> {
  const res = await t.admin('POST', '/admin/campaigns', {
    name: 'capped',
    type: 'I',
    is_ad: true,
    first_display_priority: 99,
    tipu: 50,
    unlock_reward: 2,
    landing_reward: 3,
    start_date: new Date(Date.now() - 86_400_000).toISOString(),
    end_date: new Date(Date.now() + 86_400_000).toISOString(),
    click_url: 'https://advertiser.test/capped?ifa={ifa}',
  })
  assert.equal(res.statusCode, 201, res.body)
}
