import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { parse } from 'yaml'

// There is no Docker engine on the CI machine: these checks read the files the way compose and docker would.
type Service = {
  image?: string
  build?: { context: string; dockerfile: string }
  command?: string[]
  environment?: Record<string, string>
  depends_on?: Record<string, { condition: string }>
  volumes?: string[]
  ports?: string[]
  healthcheck?: { test: string[] }
}
const compose = parse(readFileSync('deploy/docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, Service>
}
const dockerfile = readFileSync('Dockerfile', 'utf8')
const nginxConf = readFileSync('deploy/nginx/allot.conf', 'utf8')
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }
const services = compose.services

/** The JSON-array form of a Dockerfile instruction (the last one wins, as in docker). */
function instruction(name: string): string[] {
  const lines = dockerfile.split('\n').filter((l) => l.startsWith(`${name} [`))
  const last = lines.at(-1)
  assert.ok(last, `Dockerfile has a ${name} in JSON form`)
  return JSON.parse(last.slice(name.length + 1))
}

describe('deployment files', () => {
  test('compose has nginx, two Allot instances, MySQL 8, Redis 7, DynamoDB Local and a legacy stand-in', () => {
    for (const name of ['nginx', 'allot-1', 'allot-2', 'migrate', 'mysql', 'redis', 'dynamodb', 'legacy'])
      assert.ok(services[name], `service ${name}`)
    assert.match(services.mysql?.image ?? '', /^mysql:8/)
    assert.match(services.redis?.image ?? '', /^redis:7/)
    assert.match(services.dynamodb?.image ?? '', /dynamodb-local/)
  })

  test('every Allot service is built from the repository Dockerfile and configured for production mode', () => {
    for (const name of ['allot-1', 'allot-2', 'migrate']) {
      const s = services[name] as Service
      assert.equal(s.build?.context, '..', name)
      assert.equal(s.build?.dockerfile, 'Dockerfile', name)
      const env = s.environment ?? {}
      assert.match(env.DATABASE_URL ?? '', /^mysql:\/\/.*@mysql:3306\//, name)
      assert.match(env.REDIS_URL ?? '', /^redis:\/\/redis:6379/, name)
      assert.equal(env.PROFILE_STORE, 'dynamodb', name)
      assert.match(env.DYNAMODB_ENDPOINT ?? '', /^http:\/\/dynamodb:8000$/, name)
      assert.ok(env.ADMIN_TOKEN && env.PAYLOAD_SECRET, `${name} gets its secrets`)
    }
  })

  test('every depends_on names a service that exists', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const target of Object.keys(s.depends_on ?? {})) assert.ok(services[target], `${name} → ${target}`)
    }
  })

  test("nginx mounts allot.conf and its upstreams are the compose services on Allot's port", () => {
    assert.ok(services.nginx?.volumes?.some((v) => v.startsWith('./nginx/allot.conf:/etc/nginx/conf.d/')))
    const upstream = (name: string) => [
      ...(nginxConf.match(new RegExp(`upstream ${name} \\{([^}]*)\\}`))?.[1] ?? '').matchAll(
        /server ([\w.-]+):(\d+)/g,
      ),
    ]
    const allot = upstream('allot')
    assert.deepEqual(
      allot.map((m) => m[1]),
      ['allot-1', 'allot-2'],
    )
    for (const m of allot) assert.equal(m[2], services[m[1] ?? '']?.environment?.PORT, `${m[1]} port`)
    const legacy = upstream('legacy')
    assert.equal(legacy[0]?.[1], 'legacy')
    assert.ok(
      String(services.legacy?.command).includes(`listen(${legacy[0]?.[2]})`),
      'legacy listens where nginx sends',
    )
  })

  test('the image starts the service with the same command as npm start', () => {
    assert.deepEqual(instruction('CMD'), pkg.scripts.start?.split(' '))
    assert.deepEqual(services.migrate?.command, pkg.scripts.migrate?.split(' '))
  })

  test('the image runs as a non-root user with a health check on /readyz', () => {
    const user = dockerfile.match(/^USER (\S+)/m)?.[1]
    assert.ok(user && user !== 'root' && user !== '0', `USER ${user}`)
    assert.match(dockerfile, /^HEALTHCHECK .*\n?.*\/readyz/m)
    assert.match(dockerfile, /^FROM node:(\d+)[^ ]* AS deps/m)
    assert.ok(Number(dockerfile.match(/^FROM node:(\d+)/m)?.[1]) >= 22, 'current Node LTS')
  })

  test('nginx sends every SDK path of DESIGN §1 and SDK-CONTRACT §1 to Allot, and nothing under /admin', () => {
    const allotLocation = nginxConf.match(/location ~ (\S+) \{[^}]*proxy_pass http:\/\/allot;/)?.[1]
    assert.ok(allotLocation, 'a regex location proxies to allot')
    const pattern = new RegExp(allotLocation)
    for (const path of [
      '/api/allocation/',
      '/api/content_allocation/',
      '/api/content/config/',
      '/api/content/categories/',
      '/api/content/channels/',
      '/api/impression/',
      '/api/unlock/',
      '/api/click_redirect/',
      '/api/external/click_redirect/',
      '/api/content_impression/',
      '/api/rewards/',
      '/api/update_installed_apps/',
    ]) {
      assert.ok(pattern.test(path), path)
      assert.ok(pattern.test(path.slice(0, -1)), `${path} without the slash`)
    }
    for (const path of [
      '/admin/units',
      '/api/allocationx',
      '/api/admin',
      '/metrics',
      '/readyz',
      '/api/external/',
      '/api/rewards/1',
      '/api/init/',
      '/api/reward_mock/',
      '/api/shopping/categories/',
    ])
      assert.ok(!pattern.test(path), `${path} stays away from Allot`)
  })
})
