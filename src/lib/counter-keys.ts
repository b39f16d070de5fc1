/**
 * Names of the delivery counters (CounterStore keys). Totals live forever; daily counters are per UTC day
 * and expire DAILY_COUNTER_TTL_SECONDS after they start. Events increment them; allocation reads them for
 * CTR and budgets.
 */
export const counterKeys = {
  impressions: (campaignId: number) => `imp:${campaignId}`,
  clicks: (campaignId: number) => `clk:${campaignId}`,
  dailyImpressions: (campaignId: number, day: string) => `imp:${campaignId}:${day}`,
  dailyClicks: (campaignId: number, day: string) => `clk:${campaignId}:${day}`,
}

const DAY_MS = 86_400_000
/** The last day named, kept: allocation asks for it once per request, nearly always for the same day. */
let lastDay = { from: 0, to: 0, name: '' }

/** The UTC day of an instant as `yyyymmdd`, the suffix of daily counter keys. */
export function utcDay(at: number): string {
  if (at >= lastDay.from && at < lastDay.to) return lastDay.name
  const from = Math.floor(at / DAY_MS) * DAY_MS
  const name = new Date(at).toISOString().slice(0, 10).replaceAll('-', '')
  lastDay = { from, to: from + DAY_MS, name }
  return name
}
