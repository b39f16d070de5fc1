import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { freePort } from '../helpers/net.js'
import { NGINX, startNginx } from '../helpers/nginx.js'
import { requireComponent } from '../helpers/requirement.js'

const skip = requireComponent(
  existsSync(NGINX) ? undefined : `nginx is not installed at ${NGINX} (apt-get install -y nginx)`,
  'nginx edge suite',
)

/**
 * The moment of a rolling deploy that used to answer phones 503 through the shipped config: one instance is
 * down (its port refuses) and the other, although up again, is still counted out by nginx (it failed three
 * times within fail_timeout). The upstream here is a stand-in HTTP server that resets connections while told
 * to fail, so that nginx's own failure accounting is what is under test.
 */
describe('nginx with every instance counted out: the shipped backup lines still reach one that is up', {
  skip,
}, () => {
  const dirs: string[] = []
  const servers: Server[] = []
  after(() => {
    for (const server of servers) server.close()
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  /** nginx on the shipped config (`edit` changes it) in front of one refusing port and one flaky instance. */
  async function edgeWithOneUp(edit?: (config: string) => string) {
    const dir = mkdtempSync(join(tmpdir(), 'allot-failover-'))
    dirs.push(dir)
    const state = { failing: true, served: 0 }
    const instance = createServer((_req, res) => {
      state.served++
      res.setHeader('content-type', 'application/json')
      res.end('{"up":true}')
    })
    instance.on('connection', (socket) => {
      if (state.failing) socket.destroy()
    })
    servers.push(instance)
    const up = await freePort()
    instance.listen(up, '127.0.0.1')
    const down = await freePort()
    const ports = { edge: await freePort(), allot: [down, up], legacy: await freePort() }
    const nginx = await startNginx(dir, ports, 64, edit)
    const errorLog = () => readFileSync(join(dir, 'error.log'), 'utf8')
    const get = async () => {
      const res = await fetch(`http://127.0.0.1:${ports.edge}/api/content/config/?unit_id=1`)
      return { status: res.status, body: await res.text() }
    }
    // Both instances fail (a refused connect, a reset) until nginx has taken each out.
    const bothOut = () => {
      const log = errorLog()
        .split('\n')
        .filter((l) => l.includes('temporarily disabled'))
      return [down, up].every((p) => log.some((l) => l.includes(`127.0.0.1:${p}`)))
    }
    for (let i = 0; i < 30 && !bothOut(); i++) assert.equal((await get()).status, 503)
    assert.ok(bothOut(), 'nginx took both instances out')
    state.failing = false
    return { nginx, state, get, errorLog }
  }

  test('without the backup lines nginx answers "no live upstreams" although an instance is up', async () => {
    const edge = await edgeWithOneUp((config) =>
      config.replace(/^ *server 127\.0\.0\.1:\d+ backup.*\n/gm, ''),
    )
    try {
      const answer = await edge.get()
      assert.equal(answer.status, 503)
      assert.equal(JSON.parse(answer.body).code, 9003)
      assert.equal(edge.state.served, 0)
      assert.match(edge.errorLog(), /no live upstreams/)
    } finally {
      await edge.nginx.stop()
    }
  })

  test('with the shipped config the instance that is up answers at once', async () => {
    const edge = await edgeWithOneUp()
    try {
      for (let i = 0; i < 4; i++) assert.deepEqual(await edge.get(), { status: 200, body: '{"up":true}' })
      assert.equal(edge.state.served, 4)
      assert.doesNotMatch(edge.errorLog(), /no live upstreams/)
    } finally {
      await edge.nginx.stop()
    }
  })
})
