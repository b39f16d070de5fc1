import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Dispatcher } from 'undici'
import { createApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/config.js'

export const ADMIN_TOKEN = 'test-admin-token-0123456789'
export const PAYLOAD_SECRET = 'test-payload-secret-0123456789-abcdef'

export type TestApp = {
  app: FastifyInstance
  /** The internal listener's app (/metrics, /docs, /healthz, /readyz). */
  ops: FastifyInstance
  databaseUrl: string
  /** An admin API call with the bearer token. */
  admin(method: InjectOptions['method'], url: string, body?: unknown): Promise<LightMyRequestResponse>
  close(): Promise<void>
}

/** Builds Allot on `databaseUrl` without a port: migrated, optionally seeded, quiet. */
export async function startTestApp(
  databaseUrl: string,
  options: {
    seed?: boolean
    clock?: () => number
    random?: () => number
    env?: Record<string, string>
    dispatcher?: Dispatcher
  } = {},
): Promise<TestApp> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    ADMIN_TOKEN,
    PAYLOAD_SECRET,
    LOG_LEVEL: 'silent',
    MIGRATE_ON_START: 'true',
    PUBLIC_BASE_URL: 'https://allot.test',
    SEED_DEMO_DATA: options.seed ? 'true' : 'false',
    ...options.env,
  })
  const app = await createApp({
    config,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
  })
  return {
    app,
    ops: app.ops,
    databaseUrl,
    admin: (method, url, body) =>
      app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
      }),
    close: () => app.close(),
  }
}

/** A form-encoded body, as the Android SDK sends it. */
export function form(fields: Record<string, string | number>): string {
  return new URLSearchParams(
    Object.entries(fields).map(([k, v]): [string, string] => [k, String(v)]),
  ).toString()
}

/** An allocated item, as the tests read it. */
export type AllocatedItemView = { id: number; name: string; type: string; is_ad: boolean; payload: string }

/** The fields every v1 allocation carries, for `device` on the demo unit. */
export function demoAllocationFields(device: number): Record<string, string | number> {
  return {
    unit_id: 1001,
    device_id: device,
    ifa: `ifa-${device}`,
    unit_device_token: `user-${device}`,
    sdk_version: 3000,
    timezone: 'Asia/Seoul',
    country: 'KR',
  }
}

/** A form-encoded v1 allocation for `device_id` on the demo unit from Korea; asserts a 200, returns the items. */
export async function allocateDemo(t: TestApp, device: number): Promise<AllocatedItemView[]> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/allocation/',
    payload: form(demoAllocationFields(device)),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  if (res.statusCode !== 200) throw new Error(`allocation answered ${res.statusCode}: ${res.body}`)
  return res.json().campaigns
}
