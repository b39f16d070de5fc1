import type uPlot from 'uplot'
import type { LiveDto } from '../src/http/dto/live.dto.js'
import { admin } from './api.js'
import { liveChart } from './charts.js'
import { byId, el, fmt, table } from './dom.js'

/** A pending postback older than this turns its tile red. */
const STALE_POSTBACK_S = 600
/** Points kept on the live chart. */
const CHART_POINTS = 120

type Fleet = LiveDto['fleet']
type Figures = Fleet['total']
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

const rate = (n: number | null) => (n === null ? '—' : fmt.dec(n))

/** The fleet's tiles: rates and counts summed over the instances, latency from their merged histograms. */
function fleetTiles(f: Figures, instances: number): Tile[] {
  const pb = f.postbacks
  const oldest = pb?.oldest_pending_age_seconds ?? null
  const window = 'last 10 s'
  return [
    {
      key: 'requests-per-second',
      label: 'Allocation requests/s',
      value: rate(f.requests_per_second),
      note: `${window}, ${instances} instance${instances === 1 ? '' : 's'}`,
    },
    {
      key: 'allocations-total',
      label: 'Allocation requests',
      value: fmt.int(f.requests_total),
      note: 'since each instance started',
    },
    { key: 'latency-p50', label: 'Latency p50', value: fmt.ms(f.latency_p50_ms), note: window },
    { key: 'latency-p99', label: 'Latency p99', value: fmt.ms(f.latency_p99_ms), note: window },
    {
      key: 'fill-rate',
      label: 'Fill rate',
      value: fmt.pct(f.fill_rate),
      note: 'answers with at least one item',
    },
    {
      key: 'error-rate',
      label: 'Error rate',
      value: fmt.pct(f.error_rate),
      note: '5xx answers',
      alarm: (f.error_rate ?? 0) > 0.01,
    },
    {
      key: 'cache-hit-rate',
      label: 'Device-cache hit rate',
      value: fmt.pct(f.cache_hit_rate),
      note: `${fmt.int(f.cache_entries)} devices cached`,
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
  ]
}

const STATE_TEXT = {
  closed: 'closed (calls go through)',
  half_open: 'half-open (one trial call)',
  open: 'open (not called)',
}

/** One row per instance: its own rates over its own window, and how fresh they are. */
function instanceTable(fleet: Fleet): HTMLElement {
  const list = fleet.instances
  return table(
    'Figures per instance',
    [
      'Instance',
      'Requests/s',
      'Requests',
      'p50',
      'p99',
      'Fill',
      'Errors',
      'Cache hits',
      'Open breakers',
      'Updated',
    ],
    list.map((i) => [
      i.instance_id === fleet.self ? `${i.instance_id} (this one)` : i.instance_id,
      rate(i.requests_per_second),
      fmt.int(i.requests_total),
      fmt.ms(i.latency_p50_ms),
      fmt.ms(i.latency_p99_ms),
      fmt.pct(i.fill_rate),
      fmt.pct(i.error_rate),
      fmt.pct(i.cache_hit_rate),
      i.upstream
        .filter((u) => u.state === 'open')
        .map((u) => u.network)
        .join(', ') || 'none',
      new Date(i.updated_at).toISOString().slice(11, 19),
    ]),
    {
      numeric: [1, 2, 3, 4, 5, 6, 7],
      rowClass: (r) => ((list[r]?.error_rate ?? 0) > 0.01 ? 'alarm' : undefined),
    },
  )
}

/** The live panel: polls GET /admin/live, shows the fleet's figures, each instance's, the breakers and a chart. */
export function createLivePanel() {
  let plot: uPlot | undefined
  const series: [number[], (number | null)[], (number | null)[]] = [[], [], []]

  function render(now: LiveDto): void {
    const { fleet } = now
    const n = fleet.total.instances
    byId('instances-count').textContent = `${n} instance${n === 1 ? '' : 's'}`
    byId('tiles').replaceChildren(...tiles(fleetTiles(fleet.total, fleet.total.instances)))
    byId('instances').replaceChildren(
      instanceTable(fleet),
      fleet.partial
        ? el('p', { class: 'error' }, 'The shared store could not be read: only this instance shows.')
        : '',
    )
    const upstream = fleet.total.upstream
    byId('upstream').replaceChildren(
      upstream.length === 0
        ? el('p', { class: 'hint' }, 'No upstream ad network asked yet by any instance.')
        : table(
            'Circuit breaker per upstream ad network (its worst state on any instance)',
            ['Network', 'Breaker'],
            upstream.map((u) => [u.network, el('span', { class: `state ${u.state}` }, STATE_TEXT[u.state])]),
            { rowClass: (i) => (upstream[i]?.state === 'open' ? 'alarm' : undefined) },
          ),
    )
    series[0].push(now.at_ms / 1000)
    series[1].push(fleet.total.requests_per_second)
    series[2].push(fleet.total.latency_p99_ms)
    for (const s of series) if (s.length > CHART_POINTS) s.shift()
    plot ??= liveChart(byId('live-chart'))
    plot.setData(series)
  }

  return {
    /** Reads and shows the figures; answers the fleet's allocation count (a new-data signal for others). */
    async refresh(): Promise<number> {
      const now = await admin<LiveDto>('/live')
      render(now)
      return now.fleet.total.requests_total
    },
  }
}
