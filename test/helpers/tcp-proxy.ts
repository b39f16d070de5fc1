import { once } from 'node:events'
import { createConnection, createServer, type Socket } from 'node:net'

export type TcpProxy = {
  host: string
  port: number
  /** Holds every byte in both directions; connections stay open and new ones are accepted but silent. */
  stall(): void
  /** Forwards again, starting with what was held back. */
  resume(): void
  /** Connections currently open through the proxy. */
  connections(): number
  /** Bytes the proxy received from clients so far (held ones included). */
  bytesFromClients(): number
  close(): Promise<void>
}

type Link = { from: Socket; to: Socket; held: Buffer[] }

/**
 * A TCP proxy in front of a server (MariaDB, dynalite, Redis) that can stall: a network path that stops
 * delivering without closing anything, the failure only a timeout catches.
 */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let stalled = false
  let received = 0
  const sockets = new Set<Socket>()
  const links = new Set<Link>()

  function link(from: Socket, to: Socket, counted: boolean): Link {
    const l: Link = { from, to, held: [] }
    links.add(l)
    from.on('data', (chunk: Buffer) => {
      if (counted) received += chunk.length
      if (stalled) l.held.push(chunk)
      else to.write(chunk)
    })
    return l
  }

  const server = createServer((client) => {
    const upstream = createConnection({ port: targetPort, host: targetHost })
    sockets.add(client)
    const up = link(client, upstream, true)
    const down = link(upstream, client, false)
    const end = () => {
      links.delete(up)
      links.delete(down)
      sockets.delete(client)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }

  return {
    host: '127.0.0.1',
    port,
    stall() {
      stalled = true
    },
    resume() {
      stalled = false
      for (const l of links) for (const chunk of l.held.splice(0)) l.to.write(chunk)
    },
    connections: () => sockets.size,
    bytesFromClients: () => received,
    async close() {
      for (const l of links) {
        l.from.destroy()
        l.to.destroy()
      }
      links.clear()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
