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

/** The local date of `timezone` now, as yyyy-mm-dd. */
function localDay(timezone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date())
}

/** The day reports read: the units' timezone when they share one, else UTC (as the report does for budgets). */
async function reportDay(): Promise<{ day: string; timezone: string }> {
  const { items } = await admin<{ items: Unit[] }>('/units?limit=1000')
  const zones = new Set(items.map((u) => u.timezone))
  const timezone = zones.size === 1 ? ([...zones][0] as string) : 'UTC'
  return { day: localDay(timezone), timezone }
}

/** Today's delivery per campaign (GET /admin/reports/campaigns) and a pacing chart per daily budget. */
export function createCampaignPanel() {
  const charts = new Map<number, { plot: uPlot; daily: number; readings: Map<number, number> }>()

  function pacing(row: CampaignRow): void {
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
      c = { plot: pacingChart(target, title, b.daily), daily: b.daily, readings: new Map([[0, 0]]) }
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

  return {
    /** Campaign names for the explainer's list. */
    async campaignNames(): Promise<{ id: number; name: string }[]> {
      return (await admin<{ items: { id: number; name: string }[] }>('/campaigns?limit=1000')).items
    },
    async refresh(): Promise<void> {
      const { day, timezone } = await reportDay()
      const { rows } = await admin<{ rows: CampaignRow[] }>(`/reports/campaigns?from=${day}&to=${day}`)
      byId('campaigns-day').textContent = `${day} (${timezone})`
      const sorted = [...rows].sort((a, z) => z.impressions - a.impressions || a.campaign_id - z.campaign_id)
      byId('campaigns').replaceChildren(
        sorted.length === 0
          ? el(
              'p',
              { class: 'hint' },
              'No delivery today yet: campaigns appear once they are allocated, shown or clicked.',
            )
          : table(
              `Delivery per campaign on ${day}`,
              ['Campaign', 'Impressions', 'Clicks', 'CTR', 'Unlocks', 'Rewards', 'Budget'],
              sorted.map((r) => {
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
              }),
              { numeric: [1, 2, 3, 4, 5] },
            ),
      )
      for (const r of sorted) pacing(r)
    },
  }
}
