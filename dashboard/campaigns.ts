import type uPlot from 'uplot'
import { admin } from './api.js'
import { pacingChart } from './charts.js'
import { byId, el, fmt, table } from './dom.js'

type CampaignRow = {
  day: string
  campaign_id: number
  campaign_name: string | null
  impressions: number
  clicks: number
  ctr: number | null
  unlocks: number
  rewards: Record<string, { count: number; points: number }>
  budget: {
    type: string
    daily: number | null
    total: number | null
    spent: number
    pacing_line: number | null
    pacing: number | null
  } | null
}

type Unit = { id: number; timezone: string }

/** Rows per page of the campaign table. */
const CAMPAIGNS_PER_PAGE = 20

/** The local date of `timezone` now, as yyyy-mm-dd. */
function localDay(timezone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date())
}

/**
 * The day reports read: the chosen unit's local date, else the local date of the timezone most units use
 * (a tie goes to the zone listed first). Each unit's figures are kept by its own local date, so with units in
 * several zones "today" is one zone's day; UTC's would be a day with no traffic yet (or already over) for
 * most of them during part of every day (Seoul's date runs ahead of UTC's from 15:00 to 24:00 UTC).
 */
function reportDay(units: readonly Unit[], unitId: string): { day: string; timezone: string } {
  const chosen = units.find((u) => String(u.id) === unitId)
  const counts = new Map<string, number>()
  for (const u of units) counts.set(u.timezone, (counts.get(u.timezone) ?? 0) + 1)
  let timezone = chosen?.timezone ?? 'UTC'
  if (!chosen) {
    let most = 0
    for (const [zone, n] of counts) if (n > most) [timezone, most] = [zone, n]
  }
  return { day: localDay(timezone), timezone }
}

/** The unit filter's options, keeping the choice across refreshes. */
function fillUnits(select: HTMLSelectElement, units: readonly Unit[]): void {
  const chosen = select.value
  select.replaceChildren(
    el('option', { value: '' }, 'every unit'),
    ...units.map((u) => el('option', { value: u.id }, `Unit ${u.id} (${u.timezone})`)),
  )
  select.value = units.some((u) => String(u.id) === chosen) ? chosen : ''
}

/** Previous / next buttons and "rows a–b of n" under the table. */
function pager(page: number, total: number, go: (page: number) => void): Node[] {
  const pages = Math.max(1, Math.ceil(total / CAMPAIGNS_PER_PAGE))
  if (pages === 1) return []
  const first = page * CAMPAIGNS_PER_PAGE + 1
  const last = Math.min(total, first + CAMPAIGNS_PER_PAGE - 1)
  const button = (label: string, to: number, disabled: boolean) => {
    const b = el('button', { type: 'button', class: 'secondary', disabled }, label)
    b.addEventListener('click', () => go(to))
    return b
  }
  return [
    button('Previous page', page - 1, page === 0),
    el(
      'span',
      { 'aria-live': 'polite' },
      `Campaigns ${first}–${last} of ${total} (page ${page + 1} of ${pages})`,
    ),
    button('Next page', page + 1, page >= pages - 1),
  ]
}

type Charts = Map<number, { plot: uPlot; box: HTMLElement; daily: number; readings: Map<number, number> }>

/** Adds today's reading to the campaign's pacing chart (made on first use) when it has a daily budget. */
function pacing(charts: Charts, row: CampaignRow): void {
  const b = row.budget
  if (!b || b.daily === null || b.daily <= 0 || b.pacing_line === null) return
  let c = charts.get(row.campaign_id)
  if (!c || c.daily !== b.daily) {
    const box = el('figure', { class: 'chart-figure' })
    const target = el('div', {
      class: 'chart',
      role: 'img',
      'aria-label': `${row.campaign_name ?? row.campaign_id}: delivered today against the even-pacing line`,
    })
    box.append(
      target,
      el(
        'figcaption',
        {},
        `${b.type === 'click' ? 'Clicks' : 'Impressions'} delivered today vs. even pacing (daily budget ${fmt.int(b.daily)})`,
      ),
    )
    byId('pacing').append(box)
    const title = row.campaign_name ?? `Campaign ${row.campaign_id}`
    c = { plot: pacingChart(target, title, b.daily), box, daily: b.daily, readings: new Map([[0, 0]]) }
    charts.set(row.campaign_id, c)
  }
  // The report's pacing line is the daily budget times the share of the day passed: that share is the x.
  const hour = (24 * b.pacing_line) / b.daily
  c.readings.set(Math.round(hour * 1000) / 1000, b.spent)
  const xs = [...new Set([0, 24, ...c.readings.keys()])].sort((a, z) => a - z)
  c.plot.setData([xs, xs.map((x) => (c.daily * x) / 24), xs.map((x) => c.readings.get(x) ?? null)])
}

const budgetText = (b: CampaignRow['budget']) => {
  if (!b) return 'no budget'
  const limit =
    b.daily !== null ? `${fmt.int(b.daily)}/day` : b.total !== null ? `${fmt.int(b.total)} total` : '—'
  const pace = b.pacing === null ? '' : ` · pacing ${fmt.pct(b.pacing)}`
  return `${fmt.int(b.spent)} of ${limit} ${b.type}s${pace}`
}

const rowCells = (r: CampaignRow) => {
  const rewards = Object.values(r.rewards)
  const count = rewards.reduce((n, x) => n + x.count, 0)
  const points = rewards.reduce((n, x) => n + x.points, 0)
  return [
    `${r.campaign_name ?? '(deleted)'} #${r.campaign_id}`,
    fmt.int(r.impressions),
    fmt.int(r.clicks),
    fmt.pct(r.ctr),
    fmt.int(r.unlocks),
    `${fmt.int(points)} pts (${fmt.int(count)})`,
    budgetText(r.budget),
  ]
}

/** Today's delivery per campaign (GET /admin/reports/campaigns) and a pacing chart per daily budget. */
export function createCampaignPanel() {
  const charts: Charts = new Map()
  const unitSelect = byId<HTMLSelectElement>('campaigns-unit')
  let rows: CampaignRow[] = []
  let day = ''
  let page = 0

  /** Shows one page of the rows read last, with its pacing charts (the other pages' charts hidden). */
  function render(): void {
    const pages = Math.max(1, Math.ceil(rows.length / CAMPAIGNS_PER_PAGE))
    page = Math.min(page, pages - 1)
    const shown = rows.slice(page * CAMPAIGNS_PER_PAGE, (page + 1) * CAMPAIGNS_PER_PAGE)
    byId('campaigns').replaceChildren(
      rows.length === 0
        ? el(
            'p',
            { class: 'hint' },
            'No delivery today yet: campaigns appear once they are allocated, shown or clicked.',
          )
        : table(
            `Delivery per campaign on ${day}`,
            ['Campaign', 'Impressions', 'Clicks', 'CTR', 'Unlocks', 'Rewards', 'Budget'],
            shown.map(rowCells),
            { numeric: [1, 2, 3, 4, 5] },
          ),
    )
    byId('campaigns-pager').replaceChildren(
      ...pager(page, rows.length, (to) => {
        page = to
        render()
      }),
    )
    const visible = new Set(shown.map((r) => r.campaign_id))
    for (const r of shown) pacing(charts, r)
    for (const [id, c] of charts) c.box.hidden = !visible.has(id)
  }

  /** Reads today's report (of the chosen unit, or every unit) and shows it from the current page. */
  async function refresh(): Promise<void> {
    const { items: units } = await admin<{ items: Unit[] }>('/units?limit=1000')
    fillUnits(unitSelect, units)
    const unitId = unitSelect.value
    const today = reportDay(units, unitId)
    const filter = unitId ? `&unit_id=${encodeURIComponent(unitId)}` : ''
    const report = await admin<{ rows: CampaignRow[] }>(
      `/reports/campaigns?from=${today.day}&to=${today.day}${filter}`,
    )
    day = today.day
    byId('campaigns-day').textContent = `${today.day} (${today.timezone})`
    rows = [...report.rows].sort((a, z) => z.impressions - a.impressions || a.campaign_id - z.campaign_id)
    render()
  }

  unitSelect.addEventListener('change', () => {
    page = 0
    void refresh()
  })

  return {
    /** Campaign names for the explainer's list. */
    async campaignNames(): Promise<{ id: number; name: string }[]> {
      return (await admin<{ items: { id: number; name: string }[] }>('/campaigns?limit=1000')).items
    },
    refresh,
  }
}
