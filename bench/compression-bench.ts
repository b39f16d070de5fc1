/**
 * Bytes on the wire (issue #22, item 6): what gzip makes of a captured allocation answer and what it costs.
 * In process, no HTTP: zlib's gzip of the answer at level 1 (what nginx and RESPONSE_COMPRESSION=gzip use) and
 * at level 6 (zlib's default, for comparison), CPU microseconds per answer from process.cpuUsage over about a
 * second of repeated compressions. bench.ts prints them beside the bytes per answer that autocannon read off
 * the socket (headers included) and the CPU per request of the warm allocation served plain and gzipped.
 */
import { readFileSync } from 'node:fs'
import { gunzipSync, gzipSync } from 'node:zlib'

export type GzipCost = {
  plainBytes: number
  items: number
  levels: { level: number; bytes: number; cpuMicros: number }[]
}

/** Gzips the answer in `file` at levels 1 and 6: bytes and CPU µs per answer (after a warm-up). */
export function gzipCost(file: string): GzipCost {
  const answer = readFileSync(file)
  const levels = [1, 6].map((level) => {
    const once = gzipSync(answer, { level })
    if (!gunzipSync(once).equals(answer)) throw new Error('gzip did not round-trip')
    for (let i = 0; i < 200; i++) gzipSync(answer, { level })
    let runs = 0
    const start = process.cpuUsage()
    const until = performance.now() + 1000
    while (performance.now() < until) {
      for (let i = 0; i < 50; i++) gzipSync(answer, { level })
      runs += 50
    }
    const used = process.cpuUsage(start)
    return { level, bytes: once.length, cpuMicros: (used.user + used.system) / runs }
  })
  const items = (JSON.parse(answer.toString()) as { campaigns: unknown[] }).campaigns.length
  return { plainBytes: answer.length, items, levels }
}

/** One served side of the `gzip` scenario: its clients' throughput, CPU and bytes per answer. */
export type WireRow = { name: string; cpuPer1k: number; bytesPerAnswer: number; rps: number }

/** Prints the bytes-and-CPU tables: the captured answer in process, then the served answers (when measured). */
export function compressionReport(cost: GzipCost, served?: { plain: WireRow; gzip: WireRow }): void {
  const allocationMicros = served ? served.plain.cpuPer1k * 1000 : undefined
  console.log(
    `\nBytes on the wire: the captured demo answer (${cost.items} items), gzipped in process (zlib, CPU µs per answer)\n`,
  )
  console.log("| answer | bytes | ÷ plain | CPU µs / answer | ÷ the plain allocation's CPU |")
  console.log('| --- | ---: | ---: | ---: | ---: |')
  console.log(`| plain JSON | ${cost.plainBytes} | 1 | — | — |`)
  for (const l of cost.levels) {
    const ratio = allocationMicros ? (l.cpuMicros / allocationMicros).toFixed(3) : '—'
    console.log(
      `| gzip level ${l.level} | ${l.bytes} | ${(l.bytes / cost.plainBytes).toFixed(3)} | ${l.cpuMicros.toFixed(1)} | ${ratio} |`,
    )
  }
  if (!served) return
  const { plain, gzip } = served
  console.log(
    '\n| served, embedded warm, RESPONSE_COMPRESSION=gzip (median of 3 rounds) | bytes per answer, headers included | req/s | CPU ms / req |',
  )
  console.log('| --- | ---: | ---: | ---: |')
  for (const r of [plain, gzip])
    console.log(
      `| ${r.name} | ${r.bytesPerAnswer.toFixed(0)} | ${r.rps.toFixed(0)} | ${r.cpuPer1k.toFixed(3)} |`,
    )
  const extra = (gzip.cpuPer1k - plain.cpuPer1k) * 1000
  console.log(
    `\ngzip served: ${(gzip.bytesPerAnswer / plain.bytesPerAnswer).toFixed(3)} of the bytes, ` +
      `${extra.toFixed(0)} µs more CPU per request (${((extra / (plain.cpuPer1k * 1000)) * 100).toFixed(1)} % of the plain one)`,
  )
}
