import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'

/** The nginx binary the edge suite and `npm run fleet` run; override with NGINX_BIN. */
export const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx'

export type EdgePorts = { edge: number; allot: readonly number[]; legacy: number }

/**
 * The config nginx runs from a temporary prefix `dir`: deploy/nginx/allot.conf with its `upstream allot`
 * listing one line per port in `ports.allot` (the shipped primary line's options kept) and, when the shipped
 * file has backup lines, one backup line per port (the shipped backup line's options kept); legacy and listen
 * replaced.
 */
export function nginxConfig(dir: string, ports: EdgePorts, workerConnections = 256): string {
  const shipped = readFileSync('deploy/nginx/allot.conf', 'utf8')
  const lines = [...shipped.matchAll(/^( *)server allot-\d+:8080(.*)$/gm)]
  const primary = lines.find((l) => !/\bbackup\b/.test(l[2] ?? ''))
  const backup = lines.find((l) => /\bbackup\b/.test(l[2] ?? ''))
  assert.ok(primary, 'deploy/nginx/allot.conf lists allot-1:8080')
  const linesFor = (options: string) =>
    ports.allot.map((p) => `${primary[1]}server 127.0.0.1:${p}${options}\n`)
  const servers = [...linesFor(primary[2] ?? ''), ...(backup ? linesFor(backup[2] ?? '') : [])].join('')
  let first = true
  const site = shipped
    .replace(/^ *server allot-\d+:8080.*\n/gm, () => {
      const replacement = first ? servers : ''
      first = false
      return replacement
    })
    .replace(/server legacy:8000/, `server 127.0.0.1:${ports.legacy}`)
    .replace(/listen 80;/, `listen 127.0.0.1:${ports.edge};`)
    .replace(/access_log \S+/, `access_log ${join(dir, 'access.log')}`)
  assert.ok(site.includes(`127.0.0.1:${ports.allot[0]}`) && site.includes(`127.0.0.1:${ports.edge}`))
  assert.ok(!site.includes('allot-2:8080'), 'every shipped Allot upstream line replaced')
  for (const temp of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    mkdirSync(join(dir, temp), { recursive: true })
  return `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections ${workerConnections}; }
http {
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
${site}
}
`
}

export type Nginx = { child: ChildProcess; stop(): Promise<void> }

/**
 * Writes the config into `dir` (through `edit` when given: a test's variant of the shipped file) and runs the
 * real nginx in the foreground until its port accepts connections.
 */
export async function startNginx(
  dir: string,
  ports: EdgePorts,
  workerConnections?: number,
  edit: (config: string) => string = (config) => config,
): Promise<Nginx> {
  writeFileSync(join(dir, 'nginx.conf'), edit(nginxConfig(dir, ports, workerConnections)))
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
  for (let i = 0; ; i++) {
    if (child.exitCode !== null)
      throw new Error(`nginx exited: ${readFileSync(join(dir, 'error.log'), 'utf8')}`)
    if (await accepts(ports.edge)) break
    if (i > 100) {
      await stop()
      throw new Error('nginx did not listen in 5 s')
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return { child, stop }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
