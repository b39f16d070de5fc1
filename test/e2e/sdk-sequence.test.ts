import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { deflateSync } from 'node:zlib'
import { freePort } from '../helpers/net.js'
import { sdk, viaHttp } from '../helpers/sdk.js'
import { assertWire, V1ContentConfig, V1Impression, V1Unlock } from '../helpers/v1-wire.js'

const ADMIN_TOKEN = 'e2e-admin-token-0123456789'

/*
 * A field SDK's whole sequence against the real server process on its embedded default, as `npm start`
 * runs it: upload installed apps, allocate, show (impression beacon), unlock, land through click_url, read
 * and write content config, read channels; the publisher gets exactly one correct postback per grant.
 */
test('a v1 SDK sequence end to end against the server process, one postback per grant', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'allot-e2e-'))
  const received: URLSearchParams[] = []
  const publisher = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => {
      body += c
    })
    req.on('end', () => {
      received.push(new URLSearchParams(body))
      res.writeHead(200).end('ok')
    })
  }).listen(0, '127.0.0.1')
  await once(publisher, 'listening')
  const publisherPort = (publisher.address() as { port: number }).port
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${join(dir, 'allot.sqlite')}`,
      ADMIN_TOKEN,
      PAYLOAD_SECRET: 'e2e-payload-secret-0123456789-abcdef',
      PUBLIC_BASE_URL: origin,
      POSTBACK_POLL_MS: '200',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  try {
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`)
      const ready = await fetch(`${origin}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      )
      if (ready) break
      await new Promise((r) => setTimeout(r, 100))
    }
    const admin = (method: string, path: string, body: object) =>
      fetch(`${origin}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const patched = await admin('PATCH', '/admin/units/1001', {
      postback_url: `http://127.0.0.1:${publisherPort}/postback`,
    })
    assert.equal(patched.status, 200, await patched.text())

    const send = viaHttp(origin)
    const phone = sdk(send, {
      device_id: 4242,
      ifa: 'ifa-4242',
      unit_device_token: 'member-4242',
      unit_id: 1001,
      app_id: 100,
    })
    const installed = Buffer.from(deflateSync('com.example.puzzle,com.example.mail')).toString('base64')
    const upload = await send(
      'POST',
      '/api/update_installed_apps/',
      new URLSearchParams({ ifa: 'ifa-4242', app_id: '100', installed_apps: installed }).toString(),
    )
    assert.deepEqual(upload.json(), { update_period: 86400 })

    const items = await phone.pool({ sex: 'F', year_of_birth: 95, language: 'ko', device_os: 30 })
    assert.equal(
      items.find((c) => c.name === 'Puzzle game install'),
      undefined,
      'detarget_app: the puzzle is installed',
    )
    const coffee = items.find((c) => c.name === 'Morning coffee coupon')
    const story = items.find((c) => !c.is_ad && c.landing_reward > 0)
    assert.ok(coffee && story, 'an ad with an unlock reward and a story with a landing reward')

    const shown = await phone.impress(story)
    assert.equal(shown.statusCode, 200)
    assertWire(V1Impression, shown.json(), 'impression beacon')

    const unlocked = await phone.unlock(coffee)
    assertWire(V1Unlock, unlocked.json(), 'unlock')
    assert.equal(unlocked.json().reward_received, 3, 'unlock reward 1 + base reward 2')

    const landed = await phone.land(story)
    assert.equal(landed.statusCode, 302)
    assert.match(String(landed.headers.location), /^https:\/\/news\.example\.com\/articles\//)
    assert.equal(landed.headers['x-allot-reward'], 'granted')

    const stored = await send(
      'POST',
      '/api/content/config/',
      'device_id=4242&type=channel&config=%7B%22follow%22%3A%221%2C2%2C%22%7D',
    )
    assert.deepEqual(stored.json(), { message: 'success' })
    const config = await send('GET', '/api/content/config/?device_id=4242')
    assertWire(V1ContentConfig, config.json(), 'content config')
    assert.equal(config.json().channel, '{"follow":"1,2,"}')
    const channels = await send('GET', `/api/content/channels/?ids=${story.channel?.id}`)
    assert.equal(channels.json().channels[String(story.channel?.id)]?.name, story.channel?.name)

    // Wait until the outbox has nothing left to send; then the publisher has seen everything it will.
    const pending = async () => {
      const res = await fetch(`${origin}/admin/postbacks?status=pending`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      })
      return ((await res.json()) as { items: unknown[] }).items.length
    }
    for (let i = 0; i < 100 && (received.length < 2 || (await pending()) > 0); i++)
      await new Promise((r) => setTimeout(r, 50))
    assert.equal(await pending(), 0, 'every postback delivered')
    assert.equal(received.length, 2, 'exactly one postback per grant')
    const [unlockPostback, landingPostback] = [...received]
      .sort((a, b) => String(a.get('action_type')).localeCompare(String(b.get('action_type'))))
      .reverse()
    assert.equal(unlockPostback?.get('action_type'), 'u')
    assert.equal(unlockPostback?.get('point'), '3')
    assert.equal(unlockPostback?.get('base_point'), '2')
    assert.equal(unlockPostback?.get('user_id'), 'member-4242')
    assert.equal(landingPostback?.get('action_type'), 'l')
    assert.equal(
      landingPostback?.get('point'),
      String(story.landing_reward),
      'the base part was paid with the unlock',
    )
    assert.notEqual(unlockPostback?.get('transaction_id'), landingPostback?.get('transaction_id'))
  } finally {
    child.kill('SIGTERM')
    await once(child, 'exit')
    publisher.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
