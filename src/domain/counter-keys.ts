/**
 * Names of the shared counters (CounterStore keys). Totals live forever; daily counters are per UTC day
 * and expire two days later. Events increment them; allocation reads them for CTR and budgets.
 */
export const counterKeys = {
  impressions: (campaignId: number) => `imp:${campaignId}`,
  clicks: (campaignId: number) => `clk:${campaignId}`,
  dailyImpressions: (campaignId: number, day: string) => `imp:${campaignId}:${day}`,
  dailyClicks: (campaignId: number, day: string) => `clk:${campaignId}:${day}`,
}

/** Seconds a daily counter lives after it is created. */
export const DAILY_COUNTER_TTL_SECONDS = 2 * 86_400

/** The UTC day of an instant as `yyyymmdd`, the suffix of daily counter keys. */
export function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10).replaceAll('-', '')
}
