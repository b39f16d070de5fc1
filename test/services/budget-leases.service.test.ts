import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Campaign } from '../../src/domain/catalog.js'
import { campaignDraft } from '../../src/domain/drafts.js'
import { createBudgetLeases } from '../../src/services/budget-leases.service.js'
import type { BudgetLeaseStore, BudgetPool, LeaseUse } from '../../src/services/ports/events.ports.js'
import { createManualScheduler } from '../helpers/manual-timers.js'

const NOW = Date.UTC(2026, 10, 25, 3)

const campaign = (fields: Partial<Campaign>): Campaign => ({
  ...campaignDraft({ name: 'c', type: 'I', start_date: NOW - 1000, end_date: NOW + 86_400_000 }),
  id: 7,
  created_at: 0,
  updated_at: 0,
  budget_type: 'impression',
  ...fields,
})

/** The SQL store's rules in memory: a slice is at most a quarter of what is left, leases lapse, reclaim returns. */
function fakeStore() {
  const committed = new Map<string, number>()
  const leases = new Map<string, { granted: number; consumed: number; expiresAt: number }>()
  const calls = { lease: 0 }
  const poolKey = (p: { campaignId: number; period: string }) => `${p.campaignId}|${p.period}`
  const end = (leaseKey: string, consumed: number) => {
    const l = leases.get(leaseKey)
    if (!l) return
    const pool = leaseKey.split('|').slice(1).join('|')
    committed.set(pool, (committed.get(pool) ?? 0) - (l.granted - Math.max(consumed, l.consumed)))
    leases.delete(leaseKey)
  }
  const store: BudgetLeaseStore = {
    async lease(holder, pool: BudgetPool, want, _now, expiresAt) {
      calls.lease++
      const left = pool.limit - (committed.get(poolKey(pool)) ?? 0)
      const granted = left <= 0 ? 0 : Math.min(want, Math.max(1, Math.ceil(left / 4)))
      if (granted === 0) return 0
      committed.set(poolKey(pool), (committed.get(poolKey(pool)) ?? 0) + granted)
      const k = `${holder}|${poolKey(pool)}`
      const l = leases.get(k) ?? { granted: 0, consumed: 0, expiresAt }
      leases.set(k, { ...l, granted: l.granted + granted, expiresAt })
      return granted
    },
    async report(holder, uses: readonly LeaseUse[], expiresAt) {
      const gone: LeaseUse[] = []
      for (const u of uses) {
        const l = leases.get(`${holder}|${poolKey(u)}`)
        if (!l) gone.push(u)
        else Object.assign(l, { consumed: u.consumed, expiresAt })
      }
      return gone
    },
    async release(holder, uses) {
      for (const u of uses) end(`${holder}|${poolKey(u)}`, u.consumed)
    },
    async reclaimLapsed(now) {
      const lapsed = [...leases].filter(([, l]) => l.expiresAt < now)
      for (const [k, l] of lapsed) end(k, l.consumed)
      return lapsed.length
    },
  }
  return { store, calls, committed: (p: string) => committed.get(p) ?? 0 }
}

function holder(store: BudgetLeaseStore, name: string, manual = createManualScheduler(NOW)) {
  const leases = createBudgetLeases({
    store,
    scheduler: manual.scheduler,
    clock: manual.clock,
    holder: name,
    leaseMs: 30_000,
    reportMs: 5_000,
    reclaimMs: 10_000,
  })
  return { leases, ...manual }
}

test('spends come from a leased slice: a steady campaign asks the store a handful of times, not per event', async () => {
  const { store, calls, committed } = fakeStore()
  const { leases } = holder(store, 'a')
  const c = campaign({ budget_total: 100_000 })
  for (let i = 0; i < 500; i++) assert.equal(await leases.spend(c, 'impression'), 'ok')
  assert.ok(calls.lease < 30, `${calls.lease} asks for 500 spends`)
  assert.ok(committed('7|t') >= 500)
})

test('a budget of 5 across two processes serves exactly 5, then says budget in both', async () => {
  const { store } = fakeStore()
  const manual = createManualScheduler(NOW)
  const [a, b] = [holder(store, 'a', manual).leases, holder(store, 'b', manual).leases]
  const c = campaign({ budget_total: 5 })
  const outcomes = await Promise.all(
    Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).spend(c, 'impression')),
  )
  assert.equal(outcomes.filter((o) => o === 'ok').length, 5)
  assert.equal(await a.spend(c, 'impression'), 'budget')
  assert.equal(a.exhausted(c) || b.exhausted(c), true)
})

test('a daily and a total budget both hold; a campaign budgeted in clicks does not spend on impressions', async () => {
  const { store } = fakeStore()
  const { leases } = holder(store, 'a')
  const c = campaign({ budget_total: 10, budget_daily: 3 })
  const outcomes = []
  for (let i = 0; i < 5; i++) outcomes.push(await leases.spend(c, 'impression'))
  assert.deepEqual(outcomes, ['ok', 'ok', 'ok', 'budget', 'budget'])
  const clicks = campaign({ id: 8, budget_type: 'click', budget_total: 1 })
  for (let i = 0; i < 3; i++) assert.equal(await leases.spend(clicks, 'impression'), 'ok')
})

test('consumption is reported (renewing the lease); stop gives back what was not consumed', async () => {
  const { store, committed } = fakeStore()
  const { leases, advance } = holder(store, 'a')
  const c = campaign({ budget_total: 1_000 })
  for (let i = 0; i < 50; i++) await leases.spend(c, 'impression')
  const held = committed('7|t')
  assert.ok(held > 50, 'holds more than it spent')
  await advance(40_000)
  assert.equal(await leases.spend(c, 'impression'), 'ok', 'the lease was renewed by the reports')
  await leases.stop()
  assert.equal(committed('7|t'), 51, 'only what was consumed stays committed')
})

test('a process that dies keeps its slice idle until its lease lapses; then only what it reported stays spent', async () => {
  const { store, committed } = fakeStore()
  const manual = createManualScheduler(NOW)
  const dead = holder(store, 'dead', manual)
  const c = campaign({ budget_total: 40 })
  for (let i = 0; i < 6; i++) await dead.leases.spend(c, 'impression')
  await manual.advance(5_000) // its consumption reported
  const heldByDead = committed('7|t')
  // It dies: no stop, no more reports. Another process reclaims once the lease (30 s) has lapsed.
  const other = createBudgetLeases({
    store,
    scheduler: createManualScheduler(NOW).scheduler,
    clock: () => NOW + 29_000,
    holder: 'other',
    leaseMs: 30_000,
    reportMs: 5_000,
    reclaimMs: 10_000,
  })
  await other.reclaim()
  assert.equal(committed('7|t'), heldByDead, 'not lapsed yet: idle')
  await store.reclaimLapsed(NOW + 5_000 + 30_001)
  assert.equal(committed('7|t'), 6, 'the 6 reported stay spent; the rest went back, never spent twice')
})
