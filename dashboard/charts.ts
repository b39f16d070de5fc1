import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

/** Series colours: each has ≥ 4.5:1 contrast on white. */
const COLOURS = { blue: '#0b57d0', brown: '#8a4b00', grey: '#4d5156', green: '#1e6b35' }

/** Width for a chart inside `container`, whatever the window. */
const widthOf = (container: HTMLElement) => Math.max(240, Math.floor(container.clientWidth))

/** A uPlot chart that follows its container's width. */
function chart(container: HTMLElement, options: Omit<uPlot.Options, 'width'>, data: uPlot.AlignedData) {
  const plot = new uPlot({ ...options, width: widthOf(container) }, data, container)
  new ResizeObserver(() => {
    const width = widthOf(container)
    if (width !== plot.width) plot.setSize({ width, height: options.height })
  }).observe(container)
  return plot
}

const axis = (extra: Partial<uPlot.Axis> = {}): uPlot.Axis => ({
  stroke: COLOURS.grey,
  grid: { stroke: '#e3e5e8', width: 1 },
  ticks: { stroke: '#c4c7cc', width: 1 },
  ...extra,
})

/** Requests/s and p99 latency over time. */
export function liveChart(container: HTMLElement) {
  return chart(
    container,
    {
      height: 220,
      series: [
        { label: 'time', value: (_u, v) => (v == null ? '—' : new Date(v * 1000).toLocaleTimeString()) },
        {
          label: 'requests/s',
          stroke: COLOURS.blue,
          width: 2,
          scale: 'rps',
          value: (_u, v) => (v == null ? '—' : v.toFixed(1)),
        },
        {
          label: 'p99 ms',
          stroke: COLOURS.brown,
          width: 2,
          dash: [6, 4],
          scale: 'ms',
          value: (_u, v) => (v == null ? '—' : v.toFixed(1)),
        },
      ],
      scales: {
        rps: { range: (_u, _min, max) => [0, Math.max(1, max)] },
        ms: { range: (_u, _min, max) => [0, Math.max(5, max)] },
      },
      axes: [
        axis({ space: 90, values: (_u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleTimeString()) }),
        axis({ scale: 'rps', label: 'req/s' }),
        axis({ scale: 'ms', side: 1, label: 'ms', grid: { show: false } }),
      ],
    },
    [[], [], []],
  )
}

/**
 * Today's delivery against the even-pacing line: x is the share of the day passed (in hours), the line goes
 * from 0 at midnight to the daily budget at midnight next; delivered points are the report's readings.
 */
export function pacingChart(container: HTMLElement, title: string, daily: number) {
  return chart(
    container,
    {
      title,
      height: 200,
      scales: {
        x: { time: false, range: [0, 24] },
        y: { range: (_u, _min, max) => [0, Math.max(daily, max) * 1.05] },
      },
      series: [
        { label: 'hour', value: (_u, v) => (v == null ? '—' : `${v.toFixed(1)} h`) },
        { label: 'even pacing', stroke: COLOURS.grey, width: 2, dash: [6, 4], points: { show: false } },
        {
          label: 'delivered',
          stroke: COLOURS.blue,
          width: 2,
          spanGaps: true,
          points: { show: true, size: 6 },
        },
      ],
      axes: [axis({ values: (_u, ticks) => ticks.map((t) => `${t}h`) }), axis()],
    },
    [
      [0, 24],
      [0, daily],
      [null, null],
    ],
  )
}
