import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './net.js'

export const PROCESS_ADMIN_TOKEN = 'browser-admin-token-0123456789'

export type AllotProcess = {
  origin: string
  /** An admin API call with the bearer token. */
  admin(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<Response>
  /** One SDK allocation for `device` on the demo unit. */
  allocate(device: number, fields?: Record<string, string>): Promise<Response>
  stop(): Promise<void>
  /** Kills the process outright (SIGKILL): no shutdown, nothing given back. */
  kill(): Promise<void>
}

/**
 * The real server as `npm start` runs it (src/server.ts, through tsx here), on a throw-away SQLite file with
 * the demo data and free ports; it serves the dashboard that `npm run build` wrote to dist/dashboard.
 */
export async function startAllot(env: Record<string, string> = {}): Promise<AllotProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'allot-process-'))
  const port = await freePort()
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      PATH: process.env.PATH,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      DATABASE_URL: `sqlite:${join(dir, 'allot.sqlite')}`,
      HOST: '127.0.0.1',
      PORT: String(port),
      OPS_PORT: '0',
      ADMIN_TOKEN: PROCESS_ADMIN_TOKEN,
      PAYLOAD_SECRET: 'browser-payload-secret-0123456789-abcdef',
      LOG_LEVEL: 'warn',
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk) => (output += chunk))
  const origin = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`Allot exited with ${child.exitCode}:\n${output}`)
      if (i > 300) throw new Error(`Allot was not ready in 30 s:\n${output}`)
      const ready = await fetch(`${origin}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
      if (ready) break
      await new Promise((r) => setTimeout(r, 100))
    }
  } catch (err) {
    await stop()
    throw err
  }
  return {
    origin,
    admin: (method, path, body) =>
      fetch(`${origin}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${PROCESS_ADMIN_TOKEN}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    allocate: (device, fields = {}) =>
      fetch(`${origin}/api/allocation/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          unit_id: '1001',
          device_id: String(device),
          ifa: `ifa-${device}`,
          unit_device_token: `user-${device}`,
          sdk_version: '3000',
          timezone: 'Asia/Seoul',
          country: 'KR',
          sex: device % 2 ? 'F' : 'M',
          year_of_birth: String(80 + (device % 20)),
          language: 'ko',
          ...fields,
        }),
      }),
    stop,
    async kill() {
      if (child.exitCode === null) {
        child.kill('SIGKILL')
        await once(child, 'exit')
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
