/**
 * The pass criteria of a fleet run, read from the stores of record and the publisher's receiver after the
 * load stopped: no 5xx at the edge, each grant a phone was told about in the ledger exactly once and
 * postbacked exactly once, the capped and budgeted ad within its limits, and the delivery reports equal to
 * what the phones sent.
 */
import { readFileSync } from 'node:fs'
import { type Connection, createConnection } from 'mysql2/promise'
import type { FleetCatalog } from './catalog.js'
import type { Expected, Tally } from './load.js'
import { ADMIN_TOKEN, type Stack } from './stack.js'

export type Check = { name: string; ok: boolean; detail: string }

const WIRE = 1_000_000_000

/** Waits (polling, with a deadline) until every grant's postback has been delivered; false at the deadline. */
export async function drainPostbacks(stack: Stack, seconds: number): Promise<boolean> {
  const sql = await createConnection(stack.databaseUrl)
  try {
    const deadline = Date.now() + seconds * 1000
    while (Date.now() < deadline) {
      const [rows] = await sql.query("select count(*) as n from postback_outbox where status <> 'delivered'")
      if (Number((rows as { n: number }[])[0]?.n) === 0) return true
      await new Promise((r) => setTimeout(r, 250))
    }
    return false
  } finally {
    await sql.end()
  }
}

/** Every check; none throws, each says what it saw. */
export async function runChecks(stack: Stack, catalog: FleetCatalog, tally: Tally): Promise<Check[]> {
  const checks: Check[] = [edgeCheck(stack, tally)]
  const sql = await createConnection(stack.databaseUrl)
  try {
    const [ledger] = await sql.query(
      'select device_id, campaign_id, action_type, transaction_id from reward_ledger',
    )
    const rows = ledger as {
      device_id: number
      campaign_id: number
      action_type: string
      transaction_id: string
    }[]
    const [retried] = await sql.query(
      'select attempts, last_status, last_error from postback_outbox where attempts > 1 limit 5',
    )
    checks.push(ledgerCheck(rows, tally), postbackCheck(rows, stack.postbacks, retried as unknown[]))
    const report = await reportCheck(stack, catalog, tally)
    checks.push(capCheck(catalog, tally, await deliveryCounter(sql, catalog, tally)), report)
  } finally {
    await sql.end()
  }
  return checks
}

/** nginx's own access log and the phones' view: not one 5xx, not one failed request. */
function edgeCheck(stack: Stack, tally: Tally): Check {
  const lines = readFileSync(stack.accessLog, 'utf8').split('\n').filter(Boolean)
  const statuses = lines.map((l) => Number(l.match(/" (\d{3}) /)?.[1]))
  const fives = statuses.filter((s) => s >= 500).length
  const sent = [...tally.kinds.values()].reduce((n, k) => n + k.ms.length, 0)
  const upstream = upstreamSummary(readFileSync(stack.errorLog, 'utf8'))
  return {
    name: 'nginx answered 0 × 5xx to phones',
    ok: fives === 0 && tally.failureCount === 0 && lines.length === sent,
    detail:
      `${lines.length} requests in nginx's access log (${sent} sent), ${fives} × 5xx; phones saw ${tally.failureCount} ` +
      `failures${tally.failures.length ? `: ${tally.failures.slice(0, 5).join(' | ')}` : ''}` +
      (fives || tally.failureCount
        ? `\n      nginx's error log, upstream events (first time, count): ${upstream.join('\n        ')}`
        : ''),
  }
}

/**
 * nginx's upstream error lines grouped by what happened and to which instance, each with the first time it
 * happened and how often: which instance failed how, and when nginx took it out, in the order it happened.
 */
function upstreamSummary(log: string): string[] {
  const kinds = new Map<string, { first: string; count: number }>()
  for (const line of log.split('\n')) {
    if (!line.includes('upstream')) continue
    const what = line.match(/\[\w+\] \d+#\d+: \*\d+ (.*?)(?: while |, client:)/)?.[1] ?? line.slice(20, 120)
    const server = line.match(/upstream: "http:\/\/([^/"]+)/)?.[1] ?? '?'
    const key = `${what.replace(/\(\d+: /, '(')} at ${server}`
    const seen = kinds.get(key)
    if (seen) seen.count++
    else kinds.set(key, { first: line.slice(11, 19), count: 1 })
  }
  return [...kinds].slice(0, 16).map(([key, { first, count }]) => `${first} ×${count} ${key}`)
}

/** The ledger holds exactly the grants the phones were told about: same keys, same counts. */
function ledgerCheck(
  rows: { device_id: number; campaign_id: number; action_type: string }[],
  tally: Tally,
): Check {
  const ledger = new Map<string, number>()
  for (const r of rows) {
    const key = `${r.device_id}:${Number(r.campaign_id) + WIRE}:${r.action_type}`
    ledger.set(key, (ledger.get(key) ?? 0) + 1)
  }
  const toldTotal = [...tally.told.values()].reduce((a, b) => a + b, 0)
  const differ = [...new Set([...ledger.keys(), ...tally.told.keys()])].filter(
    (k) => (ledger.get(k) ?? 0) !== (tally.told.get(k) ?? 0),
  )
  return {
    name: 'every grant the phones were told about is in the ledger exactly once',
    ok: differ.length === 0 && rows.length === toldTotal,
    detail:
      `${toldTotal} grants told, ${rows.length} ledger rows, ${differ.length} (device, campaign, action) keys differ` +
      (differ.length
        ? `: ${differ
            .slice(0, 5)
            .map((k) => `${k} told ${tally.told.get(k) ?? 0} ledger ${ledger.get(k) ?? 0}`)
            .join(', ')}`
        : ''),
  }
}

/** The publisher received each ledger row's transaction id exactly once, and nothing else. */
function postbackCheck(
  rows: { transaction_id: string }[],
  received: Map<string, number>,
  retried: unknown[],
): Check {
  const ids = new Set(rows.map((r) => r.transaction_id))
  const missing = [...ids].filter((id) => !received.has(id)).length
  const twice = [...received.values()].filter((n) => n > 1).length
  const unknown = [...received.keys()].filter((id) => !ids.has(id)).length
  return {
    name: "the publisher's postbacks received each grant exactly once",
    ok: missing === 0 && twice === 0 && unknown === 0,
    detail:
      `${ids.size} grants, ${received.size} transaction ids received: ${missing} missing, ${twice} more than once, ${unknown} unknown` +
      (retried.length ? `; outbox rows sent more than once: ${JSON.stringify(retried)}` : ''),
  }
}

/**
 * The capped ad's impression counter in SQL once it has caught up: each process writes its increments every
 * REPORT_FLUSH_MS (the report reads a process's unwritten figures at once, so its check passing says nothing
 * of this flush); polled up to 10 s for the counted total, then whatever it says.
 */
async function deliveryCounter(sql: Connection, catalog: FleetCatalog, tally: Tally): Promise<number> {
  const counted = [...tally.cappedCounted.values()].reduce((a, b) => a + b, 0)
  const deadline = Date.now() + 10_000
  for (;;) {
    const [rows] = await sql.query('select value from delivery_counters where name = ?', [
      `imp:${catalog.capped - WIRE}`,
    ])
    const spent = Number((rows as { value: number }[])[0]?.value ?? 0)
    if (spent === counted || Date.now() > deadline) return spent
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** The capped ad: at most `tipu` counted impressions per device, and never past its total budget. */
function capCheck(catalog: FleetCatalog, tally: Tally, spent: number): Check {
  const counted = [...tally.cappedCounted.values()]
  const total = counted.reduce((a, b) => a + b, 0)
  const over = counted.filter((n) => n > catalog.tipu).length
  return {
    name: 'caps and budgets exact (the capped and budgeted ad never over its limits)',
    ok: over === 0 && total <= catalog.budget && spent === total,
    detail:
      `${tally.cappedCounted.size} devices counted the capped ad, ${over} over tipu ${catalog.tipu}; ${total} impressions counted ` +
      `of a budget of ${catalog.budget}; the delivery counter says ${spent}`,
  }
}

type ReportRow = Expected & { campaign_id: number; rewards: Record<string, { count: number }> }

/** The delivery report per campaign (polled until its flushes are in, with a deadline) against what was sent. */
async function reportCheck(stack: Stack, catalog: FleetCatalog, tally: Tally): Promise<Check> {
  const want = new Map<number, Expected & { u: number; l: number }>()
  for (const [id, e] of tally.expected) want.set(id, { ...e, u: 0, l: 0 })
  for (const [key, n] of tally.told) {
    const [, campaign, action] = key.split(':')
    const row = want.get(Number(campaign))
    if (row) row[action as 'u' | 'l'] += n
  }
  let differ: string[] = []
  const deadline = Date.now() + 20_000
  do {
    const got = await readReport(stack)
    differ = [...want].flatMap(([id, w]) => {
      const g = got.get(id)
      const have = { allocations: 0, impressions: 0, clicks: 0, unlocks: 0, u: 0, l: 0, ...g }
      return (Object.keys(w) as (keyof typeof w)[])
        .filter((k) => have[k] !== w[k])
        .map((k) => `${id - WIRE} ${k}: report ${have[k]}, sent ${w[k]}`)
    })
    if (differ.length === 0) break
    await new Promise((r) => setTimeout(r, 500))
  } while (Date.now() < deadline)
  const sum = (k: keyof Expected) => [...tally.expected.values()].reduce((n, e) => n + e[k], 0)
  return {
    name: 'the delivery reports equal what was sent',
    ok: differ.length === 0,
    detail:
      `${catalog.all.size} campaigns; sent: ${sum('allocations')} allocated items, ${sum('impressions')} impressions, ` +
      `${sum('clicks')} clicks, ${sum('unlocks')} unlocks` +
      (differ.length
        ? `; ${differ.length} figures differ: ${differ.slice(0, 5).join('; ')}`
        : '; every figure equal'),
  }
}

/** `/admin/reports/campaigns` around today (the unit's local day), summed per campaign wire id. */
async function readReport(stack: Stack) {
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10)
  const origin = `http://127.0.0.1:${stack.instances[0]?.port}`
  const res = await fetch(`${origin}/admin/reports/campaigns?from=${day(-1)}&to=${day(1)}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  })
  const got = new Map<number, Expected & { u: number; l: number }>()
  for (const r of ((await res.json()) as { rows: ReportRow[] }).rows) {
    const id = r.campaign_id + WIRE
    const g = got.get(id) ?? { allocations: 0, impressions: 0, clicks: 0, unlocks: 0, u: 0, l: 0 }
    for (const k of ['allocations', 'impressions', 'clicks', 'unlocks'] as const) g[k] += r[k]
    g.u += r.rewards.u?.count ?? 0
    g.l += r.rewards.l?.count ?? 0
    got.set(id, g)
  }
  return got
}
