/**
 * The reach scenario of `npm run bench`, in process (no HTTP, no load generator): a population of synthetic
 * devices in a store, the reach service's sample loaded from it as an instance does at start, then every
 * draft of REACH_DRAFTS estimated repeatedly. Prints the latency of an estimate (what POST /admin/reach
 * spends besides JSON) and its error against the exact count over every device.
 */
import { catalogSnapshot } from '../src/domain/catalog-snapshot.js'
import { campaignDraft } from '../src/domain/drafts.js'
import { createReachSample } from '../src/domain/reach.js'
import { compileTargeting } from '../src/domain/targeting.js'
import { createReach } from '../src/services/reach.service.js'
import { createScheduler } from '../src/services/scheduler.js'
import { REACH_DRAFTS, syntheticDevices, syntheticSeenStore } from '../test/helpers/synthetic-devices.js'

const quiet = { info() {}, warn() {}, error() {} }

export async function reachBench({
  devices,
  sampleSize,
  runs,
}: {
  devices: number
  sampleSize: number
  runs: number
}) {
  const now = Date.UTC(2026, 10, 25, 3)
  const snapshot = catalogSnapshot({
    version: 1,
    loadedAt: 0,
    units: [],
    campaigns: [],
    categories: [],
    channels: [],
  })
  const rssBefore = process.memoryUsage().rss
  let started = performance.now()
  const store = syntheticSeenStore(devices, now)
  const storeMs = performance.now() - started
  const reach = createReach({
    store,
    catalog: { current: () => snapshot },
    clock: () => now,
    sampleSize,
    refreshMs: 3_600_000,
    flushMs: 3_600_000,
    // Never started: the bench calls load() itself.
    scheduler: createScheduler({ clock: () => now, onError: () => {} }),
    logger: quiet,
  })
  started = performance.now()
  await reach.load()
  const loadMs = performance.now() - started
  const rssSample = process.memoryUsage().rss

  // The truth: every device through the same checks (a sample that holds them all).
  const exact = createReachSample(devices + 1)
  for (const d of syntheticDevices(devices, now)) exact.upsert(d)
  const rows = REACH_DRAFTS.map((draft) => measureDraft(draft, reach, exact, runs, now))
  const rate = reach.estimate({}).rate
  const sampled = reach.estimate({}).sampled
  console.log(
    `\nreach: ${devices.toLocaleString('en')} synthetic devices seen in 30 days, sample of ${sampled.toLocaleString('en')} ` +
      `(REACH_SAMPLE_SIZE ${sampleSize.toLocaleString('en')}, rate ${rate.toFixed(4)}); store ids sorted in ${storeMs.toFixed(0)} ms, ` +
      `sample loaded in ${loadMs.toFixed(0)} ms; the sample's columns take ${(reach.sampleBytes() / 1e6).toFixed(1)} MB ` +
      `(RSS +${((rssSample - rssBefore) / 1e6).toFixed(0)} MB with the store, the index and the load's garbage); ` +
      `${runs} estimates per draft, node ${process.version}\n`,
  )
  printRows(rows)
}

type Row = {
  name: string
  exact: number[]
  estimate: number[]
  margin: number[]
  p50: number
  max: number
  exactMs: number
}

/** One draft: `runs` estimates timed, and the exact count over every device. */
function measureDraft(
  { name, targeting }: (typeof REACH_DRAFTS)[number],
  reach: ReturnType<typeof createReach>,
  exact: ReturnType<typeof createReachSample>,
  runs: number,
  now: number,
): Row {
  const times: number[] = []
  let estimate = reach.estimate(targeting)
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    estimate = reach.estimate(targeting)
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  const predicate = compileTargeting({
    ...campaignDraft({ name: 'exact', type: 'C', start_date: 0, end_date: 1, ...targeting }),
    id: 0,
    created_at: 0,
    updated_at: 0,
  })
  const t = performance.now()
  const truth = exact.count(predicate, now, () => 2026)
  return {
    name,
    exact: truth.map((w) => w.matching),
    estimate: estimate.windows.map((w) => w.matching),
    margin: estimate.windows.map((w) => w.margin),
    p50: times[Math.floor(times.length / 2)] as number,
    max: times[times.length - 1] as number,
    exactMs: performance.now() - t,
  }
}

function printRows(rows: Row[]): void {
  console.log(
    '| draft | exact 1 / 7 / 30 d | estimate 1 / 7 / 30 d | error % 1 / 7 / 30 d | ±95 % (30 d) | estimate p50 ms | max ms | exact scan ms |',
  )
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  let worst = 0
  for (const r of rows) {
    const errors = r.exact.map((e, i) => ((r.estimate[i] as number) - e) / e)
    worst = Math.max(worst, ...errors.map(Math.abs))
    console.log(
      `| ${r.name} | ${r.exact.map((n) => n.toLocaleString('en')).join(' / ')} | ${r.estimate.map((n) => n.toLocaleString('en')).join(' / ')} | ` +
        `${errors.map((e) => (e * 100).toFixed(2)).join(' / ')} | ${(r.margin[2] ?? 0).toLocaleString('en')} | ${r.p50.toFixed(1)} | ${r.max.toFixed(1)} | ${r.exactMs.toFixed(0)} |`,
    )
  }
  console.log(
    `\nworst error ${(worst * 100).toFixed(2)} %; slowest estimate ${Math.max(...rows.map((r) => r.max)).toFixed(1)} ms`,
  )
}
