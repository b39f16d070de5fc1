import type { CampaignDay, UnitDay } from '../../services/report.service.js'

/** Spreadsheets read a UTF-8 file as UTF-8 (Korean names intact) only when it starts with a BOM. */
const BOM = '\uFEFF'

type Cell = string | number | null | undefined

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break. Text that a spreadsheet
 * would run as a formula (= + - @ at the start) gets a leading apostrophe.
 */
function cell(value: Cell): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : ''
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

function csv(header: readonly string[], rows: readonly Cell[][]): string {
  const lines = [header, ...rows].map((r) => r.map(cell).join(','))
  return `${BOM}${lines.join('\r\n')}\r\n`
}

const round = (x: number | null, digits: number) =>
  x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits

/** The campaign report as CSV: one line per campaign and day, ISO dates. */
export function campaignReportCsv(rows: readonly CampaignDay[]): string {
  return csv(
    [
      'day',
      'campaign_id',
      'campaign_name',
      'allocations',
      'impressions',
      'clicks',
      'ctr',
      'unlocks',
      'ineligible',
      'unlock_rewards',
      'unlock_points',
      'landing_rewards',
      'landing_points',
      'postbacks_delivered',
      'postbacks_pending',
      'postbacks_failed',
      'budget_type',
      'budget_daily',
      'budget_total',
      'budget_spent',
      'pacing_line',
      'pacing',
    ],
    rows.map((r) => [
      r.day,
      r.campaignId,
      r.name,
      r.allocations,
      r.impressions,
      r.clicks,
      round(r.ctr, 6),
      r.unlocks,
      r.ineligible,
      r.rewards.u?.count ?? 0,
      r.rewards.u?.points ?? 0,
      r.rewards.l?.count ?? 0,
      r.rewards.l?.points ?? 0,
      r.postbacks.delivered,
      r.postbacks.pending,
      r.postbacks.failed,
      r.budget?.type,
      r.budget?.daily,
      r.budget?.total,
      r.budget?.spent,
      round(r.budget?.pacingLine ?? null, 2),
      round(r.budget?.pacing ?? null, 4),
    ]),
  )
}

/** The unit report as CSV: one line per unit and day, ISO dates. */
export function unitReportCsv(rows: readonly UnitDay[]): string {
  return csv(
    [
      'day',
      'unit_id',
      'unit_name',
      'requests',
      'items',
      'empty',
      'fill_rate',
      'latency_p50_ms',
      'latency_p99_ms',
    ],
    rows.map((r) => [
      r.day,
      r.unitId,
      r.name,
      r.requests,
      r.items,
      r.empty,
      round(r.fillRate, 4),
      round(r.latencyP50Ms, 1),
      round(r.latencyP99Ms, 1),
    ]),
  )
}
