import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/** The first port the kernel hands out to outgoing connections (Linux; 32768 elsewhere). */
function ephemeralStart(): number {
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    )
    return Number.isInteger(first) && first > 2048 ? first : 32768
  } catch {
    return 32768
  }
}
const BELOW = ephemeralStart()
const LOWEST = Math.max(1025, BELOW - 12_000)

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, below the kernel's ephemeral range: a port from that range
 * (what `listen(0)` gives) can be taken meanwhile as the local port of any outgoing connection (another instance
 * connecting to Redis while this one boots), and the server meant for it then fails with EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = LOWEST + Math.floor(Math.random() * (BELOW - LOWEST))
    const server = createServer()
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => resolve(true))
    })
    if (free) {
      server.close()
      await once(server, 'close')
      return port
    }
  }
  throw new Error(`no free port found between ${LOWEST} and ${BELOW}`)
}
