import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { Registrations } from '../../src/domain/device.js'
import { toItem } from '../../src/infra/dynamodb/attribute-values.js'
import { createDynamoDeviceRepository } from '../../src/repositories/dynamodb-device.repository.js'
import { startDynamo, TEST_AWS_CREDENTIALS } from '../helpers/dynamo.js'
import { freePort } from '../helpers/net.js'

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
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  scripts: Record<string, string>
  dependencies: Record<string, string>
  devDependencies: Record<string, string>
}
const buildConfig = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as {
  compilerOptions: { rootDir?: string; outDir?: string; noEmit?: boolean }
  include?: string[]
}
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
        /^\s*server ([\w.-]+):(\d+)([^;]*);/gm,
      ),
    ]
    const allot = upstream('allot')
    // Each instance twice: a primary line, and a backup nginx never counts out (test/edge/nginx-failover.test.ts).
    assert.deepEqual(
      allot.map((m) => `${m[1]}${/\bbackup\b/.test(m[3] ?? '') ? ' backup' : ''}`),
      ['allot-1', 'allot-2', 'allot-1 backup', 'allot-2 backup'],
    )
    for (const m of allot) assert.equal(m[2], services[m[1] ?? '']?.environment?.PORT, `${m[1]} port`)
    const legacy = upstream('legacy')
    assert.equal(legacy[0]?.[1], 'legacy')
    assert.ok(
      String(services.legacy?.command).includes(`listen(${legacy[0]?.[2]})`),
      'legacy listens where nginx sends',
    )
  })

  test("the image runs the JavaScript that npm run build compiles from src/, with npm start's command", () => {
    assert.equal(pkg.scripts.build, 'tsc -p tsconfig.build.json')
    assert.equal(buildConfig.compilerOptions.rootDir, 'src', 'dist/server.js is src/server.ts')
    assert.equal(buildConfig.compilerOptions.outDir, 'dist')
    assert.equal(buildConfig.compilerOptions.noEmit, false)
    assert.deepEqual(buildConfig.include, ['src'])
    assert.equal(pkg.scripts.prestart, 'npm run build', 'npm start compiles first')
    assert.equal(pkg.scripts.premigrate, 'npm run build', 'npm run migrate compiles first')
    assert.deepEqual(instruction('CMD'), ['node', '--max-semi-space-size=8', 'dist/server.js'])
    // npm start = its environment assignments, then the image's command; the image sets the same in ENV.
    const start = pkg.scripts.start?.split(' ') ?? []
    const assignments = start.filter((w) => /^[A-Z_]+=/.test(w))
    assert.deepEqual(assignments, ['MALLOC_TRIM_THRESHOLD_=131072'])
    assert.deepEqual(instruction('CMD'), start.slice(assignments.length))
    const runtimeEnv = dockerfile
      .slice(dockerfile.indexOf(' AS runtime'))
      .match(/^ENV ((?:.*\\\n)*.*)$/m)?.[1]
    for (const a of assignments) assert.ok(runtimeEnv?.split(/\s+/).includes(a), `the image sets ${a}`)
    assert.deepEqual(services.migrate?.command, ['node', 'dist/migrate.js'])
    assert.deepEqual(services.migrate?.command, pkg.scripts.migrate?.split(' '))
    assert.match(dockerfile, /^RUN npm run build\b/m)
    assert.match(dockerfile, /^COPY --from=build \S+ \/app\/dist \.\/dist$/m)
    const runtime = dockerfile.slice(dockerfile.indexOf(' AS runtime'))
    assert.doesNotMatch(runtime, /\btsx\b|\bsrc\b|\.ts\b/, 'no TypeScript in the runtime stage')
    assert.equal(pkg.dependencies.tsx, undefined, 'tsx is a development dependency only')
  })

  test('npm run build also bundles the dashboard, in the image too (before pruning its bundler)', () => {
    assert.equal(pkg.scripts.postbuild, 'node --import tsx scripts/build-dashboard.ts')
    const build = dockerfile.slice(0, dockerfile.indexOf(' AS runtime'))
    assert.match(build, /^COPY dashboard \.\/dashboard$/m)
    assert.match(build, /^COPY scripts\/build-dashboard\.ts \.\/scripts\/$/m)
    assert.ok(
      build.indexOf('RUN npm run build') < build.indexOf('npm prune --omit=dev'),
      'built before the prune',
    )
    for (const dev of ['esbuild', 'uplot', 'playwright-core'])
      assert.equal(pkg.dependencies[dev], undefined, `${dev} is needed at build or test time only`)
    assert.ok(pkg.devDependencies.esbuild)
  })

  test('the image runs as a non-root user on Node 24 with a health check on /readyz', () => {
    const user = dockerfile.match(/^USER (\S+)/m)?.[1]
    assert.ok(user && user !== 'root' && user !== '0', `USER ${user}`)
    assert.match(dockerfile, /^HEALTHCHECK .*\n?.*\/readyz/m)
    const stages = Object.fromEntries(
      [...dockerfile.matchAll(/^FROM (\S+) AS (\w+)$/gm)].map((m) => [m[2], m[1]]),
    )
    assert.deepEqual(Object.keys(stages), ['build', 'runtime'])
    assert.equal(stages.runtime, 'node:24-bookworm-slim', 'the newest Node 24')
    // better-sqlite3 is compiled in the build stage: same major (one ABI) and Debian release as the runtime,
    // from source against that stage's headers (a pinned 24.x before the cleanup-hook change).
    assert.match(stages.build ?? '', /^node:24\.\d+\.\d+-bookworm-slim$/)
    assert.match(
      dockerfile,
      /^RUN npm_config_build_from_source=better-sqlite3 npm_config_nodedir=\/usr\/local npm ci\b/m,
    )
    assert.match(dockerfile, /npm prune --omit=dev/, 'production dependencies only')
  })

  test("nginx gzips Allot's JSON answers at level 1 from 1 KiB, with Vary, and nothing of legacy's", () => {
    const location = nginxConf.match(/location ~ \S+ \{([^}]*)proxy_pass http:\/\/allot;/)?.[1] ?? ''
    const directive = (name: string) => location.match(new RegExp(`^ *${name} ([^;]+);`, 'm'))?.[1]
    assert.equal(directive('gzip'), 'on')
    assert.equal(directive('gzip_comp_level'), '1')
    assert.equal(directive('gzip_types'), 'application/json')
    assert.equal(directive('gzip_min_length'), '1024', "Allot's own threshold (RESPONSE_COMPRESSION)")
    assert.equal(directive('gzip_proxied'), 'any')
    assert.equal(directive('gzip_vary'), 'on')
    const outside = nginxConf.replace(location, '')
    assert.doesNotMatch(outside, /^\s*gzip\w*\s/m, 'only in the Allot location: legacy answers as before')
  })

  test('nginx sends every SDK path (docs/architecture.md §W1) to Allot, and nothing under /admin', () => {
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

/** Spawns a compiled entry point the way the image does: `node dist/<file>.js` in the app directory. */
function runCompiled(appDir: string, file: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [join('dist', file)], {
    cwd: appDir,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

async function waitUntilReady(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`)
    try {
      if ((await fetch(url)).status === 200) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('server did not become ready in 10 s')
}

describe('the compiled build', () => {
  // The image's layout: package.json, node_modules and what `npm run build` emits into dist/.
  const app = mkdtempSync(join(tmpdir(), 'allot-build-'))
  after(() => rmSync(app, { recursive: true, force: true }))

  test('what npm run build emits migrates and serves with plain node', { timeout: 30_000 }, async () => {
    await promisify(execFile)('npm', ['run', 'build', '--', '--outDir', join(app, 'dist')])
    copyFileSync('package.json', join(app, 'package.json'))
    symlinkSync(resolve('node_modules'), join(app, 'node_modules'), 'dir')
    const env = { DATABASE_URL: `sqlite:${join(app, 'allot.sqlite')}`, HOST: '127.0.0.1' }

    const migrate = runCompiled(app, 'migrate.js', { ...env, SEED_DEMO_DATA: 'true' })
    let migrateOutput = ''
    for (const stream of [migrate.stdout, migrate.stderr]) {
      stream?.on('data', (chunk) => {
        migrateOutput += chunk
      })
    }
    const [migrateCode] = await once(migrate, 'exit')
    assert.equal(migrateCode, 0, migrateOutput)
    assert.match(migrateOutput, /applied: 0001-initial/)
    assert.match(migrateOutput, /seeded the demo catalog/)

    const port = await freePort()
    // Any free ops port: the default one may be taken (another suite's server running at the same time).
    const server = runCompiled(app, 'server.js', { ...env, PORT: String(port), OPS_PORT: '0' })
    try {
      await waitUntilReady(`http://127.0.0.1:${port}/readyz`, server)
      const res = await fetch(`http://127.0.0.1:${port}/healthz`)
      assert.equal(res.status, 200)
    } finally {
      server.kill('SIGTERM')
    }
    const [code] = await once(server, 'exit')
    assert.equal(code, 0)
  })

  test('npm run migrate marks the devices of a DynamoDB table from before device marks only when asked', {
    timeout: 30_000,
  }, async () => {
    const dynamo = await startDynamo(undefined, 'http', false)
    try {
      const device = 1 + Math.floor(Math.random() * 2 ** 40)
      await dynamo.connection.transport.call(
        'PutItem',
        { TableName: dynamo.table, Item: toItem({ device_id: device, sk: 'reg#7', registered_at: 100 }) },
        AbortSignal.timeout(5_000),
      )
      const env = {
        DATABASE_URL: `sqlite:${join(app, 'marks.sqlite')}`,
        PROFILE_STORE: 'dynamodb',
        DYNAMODB_TABLE: dynamo.table,
        DYNAMODB_ENDPOINT: dynamo.endpoint,
        DYNAMODB_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      }
      const migrate = async (...args: string[]) => {
        const child = spawn(process.execPath, [join('dist', 'migrate.js'), ...args], {
          cwd: app,
          env: { PATH: process.env.PATH, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let output = ''
        for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk) => (output += chunk))
        const [code] = await once(child, 'exit')
        assert.equal(code, 0, output)
        return output
      }
      assert.match(await migrate(), /device marks: not in use yet/)
      assert.match(await migrate('--mark-devices'), /device marks: in use \(1 device marked\)/)
      assert.match(await migrate('--mark-devices'), /device marks: in use\n/)
      const mark = await dynamo.connection.transport.call(
        'GetItem',
        { TableName: dynamo.table, Key: toItem({ device_id: device, sk: 'dev' }), ConsistentRead: true },
        AbortSignal.timeout(5_000),
      )
      assert.ok(mark.Item, 'the device has its mark')
      const store = createDynamoDeviceRepository(dynamo.connection.transport, dynamo.table)
      assert.deepEqual((await store.loadDevice(device, 0)).registrations, new Registrations([[7, 100]]))
    } finally {
      await dynamo.close()
    }
  })
})
