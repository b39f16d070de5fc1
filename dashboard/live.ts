import type uPlot from 'uplot'
import { histogramQuantile } from '../src/domain/report.js'
import type { LiveDto } from '../src/http/dto/live.dto.js'
import { admin } from './api.js'
import { liveChart } from './charts.js'
import { byId, el, fmt, table } from './dom.js'

/** Rates are read over about this long (or since the page opened, when that is shorter). */
const WINDOW_MS = 15_000
/** A pending postback older than this turns its tile red. */
const STALE_POSTBACK_S = 600
/** Points kept on the live chart. */
const CHART_POINTS = 120

type Figures = {
  requestsPerSecond: number | null
  total: number
  p50: number | null
  p99: number | null
  fill: number | null
  errors: number | null
  hitRate: number | null
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0)
const requests = (s: LiveDto, status?: (code: number) => boolean) =>
  sum(s.allocation.requests.filter((r) => !status || status(Number(r.status))).map((r) => r.count))
const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : null)

/** What the tiles show: differences between `now` and `then` (counters since the process started). */
export function figures(now: LiveDto, then: LiveDto | undefined): Figures {
  const zero: LiveDto = {
    ...now,
    allocation: {
      requests: [],
      latency: {
        bounds_ms: now.allocation.latency.bounds_ms,
        counts: now.allocation.latency.counts.map(() => 0),
      },
      answers: { filled: 0, empty: 0 },
    },
    device_cache: { hits: 0, misses: 0, entries: 0 },
  }
  const base = then ?? zero
  const seconds = then ? (now.at_ms - then.at_ms) / 1000 : 0
  const done = requests(now) - requests(base)
  const counts = now.allocation.latency.counts.map((c, i) => c - (base.allocation.latency.counts[i] ?? 0))
  const bounds = now.allocation.latency.bounds_ms
  const filled = now.allocation.answers.filled - base.allocation.answers.filled
  const empty = now.allocation.answers.empty - base.allocation.answers.empty
  const hits = now.device_cache.hits - base.device_cache.hits
  const misses = now.device_cache.misses - base.device_cache.misses
  return {
    requestsPerSecond: seconds > 0 ? done / seconds : null,
    total: requests(now),
    p50: histogramQuantile(counts, 0.5, bounds),
    p99: histogramQuantile(counts, 0.99, bounds),
    fill: ratio(filled, filled + empty),
    errors: ratio(requests(now, (s) => s >= 500) - requests(base, (s) => s >= 500), done),
    hitRate: ratio(hits, hits + misses),
  }
}

type Tile = { key: string; label: string; value: string; note?: string; alarm?: boolean }

function tiles(list: readonly Tile[]): Node[] {
  return list.map((t) =>
    el(
      'div',
      { class: t.alarm ? 'tile alarm' : 'tile' },
      el('dt', {}, t.label),
      el(
        'dd',
        { 'data-metric': t.key },
        t.value,
        t.alarm ? el('span', { class: 'badge' }, ' needs attention') : null,
      ),
      t.note ? el('dd', { class: 'note' }, t.note) : null,
    ),
  )
}

const STATE_TEXT = {
  closed: 'closed (calls go through)',
  half_open: 'half-open (one trial call)',
  open: 'open (not called)',
}

/** The live panel: polls GET /admin/live, shows the figures, the upstream breakers and a chart. */
export function createLivePanel() {
  const history: LiveDto[] = []
  let plot: uPlot | undefined
  const series: [number[], (number | null)[], (number | null)[]] = [[], [], []]

  function render(now: LiveDto): void {
    // The snapshot about WINDOW_MS ago, else the oldest this page has.
    const then = history.find((s) => now.at_ms - s.at_ms <= WINDOW_MS && s !== now) ?? history.at(-2)
    const window = then ? `last ${Math.round((now.at_ms - then.at_ms) / 1000)} s` : 'since start'
    const f = figures(now, then)
    const pb = now.postbacks
    const oldest = pb?.oldest_pending_age_seconds ?? null
    byId('tiles').replaceChildren(
      ...tiles([
        {
          key: 'requests-per-second',
          label: 'Allocation requests/s',
          value: f.requestsPerSecond === null ? '—' : fmt.dec(f.requestsPerSecond),
          note: window,
        },
        {
          key: 'allocations-total',
          label: 'Allocation requests',
          value: fmt.int(f.total),
          note: 'since this process started',
        },
        { key: 'latency-p50', label: 'Latency p50', value: fmt.ms(f.p50), note: window },
        { key: 'latency-p99', label: 'Latency p99', value: fmt.ms(f.p99), note: window },
        {
          key: 'fill-rate',
          label: 'Fill rate',
          value: fmt.pct(f.fill),
          note: 'answers with at least one item',
        },
        {
          key: 'error-rate',
          label: 'Error rate',
          value: fmt.pct(f.errors),
          note: '5xx answers',
          alarm: (f.errors ?? 0) > 0.01,
        },
        {
          key: 'cache-hit-rate',
          label: 'Device-cache hit rate',
          value: fmt.pct(f.hitRate),
          note: `${fmt.int(now.device_cache.entries)} devices cached`,
        },
        {
          key: 'postbacks-pending',
          label: 'Postbacks pending',
          value: pb ? fmt.int(pb.pending) : 'unknown',
          alarm: !pb || (oldest ?? 0) > STALE_POSTBACK_S,
          note: pb ? `oldest ${fmt.age(oldest)}` : 'the outbox could not be read',
        },
        {
          key: 'postbacks-failed',
          label: 'Postbacks failed',
          value: pb ? fmt.int(pb.failed) : 'unknown',
          alarm: !pb || pb.failed > 0,
          note: 'given up after every retry',
        },
      ]),
    )
    const upstream = now.upstream
    byId('upstream').replaceChildren(
      upstream.length === 0
        ? el('p', { class: 'hint' }, 'No upstream ad network asked yet by this process.')
        : table(
            'Circuit breaker per upstream ad network',
            ['Network', 'Breaker'],
            upstream.map((u) => [u.network, el('span', { class: `state ${u.state}` }, STATE_TEXT[u.state])]),
            { rowClass: (i) => (upstream[i]?.state === 'open' ? 'alarm' : undefined) },
          ),
    )
    series[0].push(now.at_ms / 1000)
    series[1].push(f.requestsPerSecond)
    series[2].push(f.p99)
    for (const s of series) if (s.length > CHART_POINTS) s.shift()
    plot ??= liveChart(byId('live-chart'))
    plot.setData(series)
  }

  return {
    async refresh(): Promise<void> {
      const now = await admin<LiveDto>('/live')
      history.push(now)
      while (history.length > 0 && now.at_ms - (history[0] as LiveDto).at_ms > WINDOW_MS * 2) history.shift()
      render(now)
    },
  }
}
