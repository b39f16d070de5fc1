import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import SQLite from 'better-sqlite3'
import { type AllotProcess, startAllot } from '../helpers/allot-process.js'

/*
 * A process killed outright (kill -9) while it holds a budget slice (issue #20): what it had reported
 * consumed stays spent, the rest of its slice sits idle until its lease lapses, then another process serves
 * it. The budget is delivered exactly, never twice.
 */

const LEASE_MS = 3_000
const BUDGET = 20

describe('a budget slice held by a process that is killed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'allot-budget-crash-'))
  const file = join(dir, 'allot.sqlite')
  const env = {
    DATABASE_URL: `sqlite:${file}`,
    BUDGET_LEASE_MS: String(LEASE_MS),
    REPORT_FLUSH_MS: '200',
    EVENT_RATE_LIMIT_PER_MINUTE: '0',
  }
  const running: AllotProcess[] = []
  after(async () => {
    await Promise.all(running.map((p) => p.stop()))
    rmSync(dir, { recursive: true, force: true })
  })

  /** The beacon of the budgeted ad allocated to `device` on `p`. */
  async function beaconOf(p: AllotProcess, device: number): Promise<string> {
    type Item = { name: string; impression_urls?: string[] }
    const { campaigns: items } = (await (await p.allocate(device)).json()) as { campaigns: Item[] }
    const item = items.find((c) => c.name === 'twenty')
    assert.ok(item?.impression_urls?.[0], 'the budgeted ad is allocated')
    return new URL(item.impression_urls[0]).pathname + new URL(item.impression_urls[0]).search
  }
  /** What the store holds as consumed of the campaign's leases (what the processes have reported). */
  function reportedConsumed(): number {
    const db = new SQLite(file, { readonly: true })
    try {
      const row = db
        .prepare(
          `select coalesce(sum(l.consumed), 0) as n from budget_leases l
           join campaigns c on c.id = l.campaign_id where c.name = 'twenty' and l.period = 't'`,
        )
        .get() as { n: number }
      return row.n
    } finally {
      db.close()
    }
  }
  /** Polls until the store shows `n` consumed (at most 10 s: REPORT_FLUSH_MS is 200). */
  async function untilReported(n: number): Promise<void> {
    const end = Date.now() + 10_000
    while (reportedConsumed() < n) {
      if (Date.now() > end) assert.fail(`the store shows ${reportedConsumed()} consumed, not ${n}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const fire = async (p: AllotProcess, path: string) =>
    String((await fetch(`${p.origin}${path}`)).headers.get('x-allot-counted'))

  test('what it reported stays spent; its idle rest returns after the lease; the budget is served exactly', async () => {
    const a = await startAllot(env)
    running.push(a)
    const created = await a.admin('POST', '/admin/campaigns', {
      name: 'twenty',
      type: 'I',
      first_display_priority: 300,
      budget_type: 'impression',
      budget_total: BUDGET,
      start_date: new Date(Date.now() - 60_000).toISOString(),
      end_date: new Date(Date.now() + 86_400_000).toISOString(),
      click_url: 'https://advertiser.test/twenty',
    })
    assert.equal(created.status, 201, await created.text())
    const beacon = await beaconOf(a, 1)
    let countedByA = 0
    for (let i = 0; i < 8; i++) if ((await fire(a, beacon)) === 'counted') countedByA++
    assert.equal(countedByA, 8)
    // Its consumption reaches the store with its next report; then it dies holding the rest of its slice.
    await untilReported(8)
    await a.kill()
    running.splice(running.indexOf(a), 1)

    const b = await startAllot({ ...env, SEED_DEMO_DATA: 'false' })
    running.push(b)
    const killedAt = Date.now()
    const beaconB = await beaconOf(b, 2)
    let countedByB = 0
    let sawIdle = false
    let servedAllAt = 0
    for (let i = 0; i < 200 && countedByA + countedByB < BUDGET; i++) {
      const outcome = await fire(b, beaconB)
      if (outcome === 'counted') countedByB++
      else {
        assert.equal(outcome, 'budget')
        sawIdle = true
        await new Promise((r) => setTimeout(r, 100))
      }
      servedAllAt = Date.now()
    }
    assert.equal(countedByA + countedByB, BUDGET, 'the whole budget is served, once')
    for (let i = 0; i < 5; i++) assert.equal(await fire(b, beaconB), 'budget', 'and never more')
    const idleMs = servedAllAt - killedAt
    assert.ok(idleMs < LEASE_MS + LEASE_MS / 2 + 3_000, `the killed process's rest was idle ${idleMs} ms`)
    assert.ok(
      sawIdle || countedByB === BUDGET - countedByA,
      'the rest of its slice waited for its lease to lapse',
    )
  })
})
