// dynalite ships no types; this is the part the tests and the bench use.
declare module 'dynalite' {
  import type { Server } from 'node:http'

  type Options = { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number; path?: string }
  export default function dynalite(options?: Options): Server
}
