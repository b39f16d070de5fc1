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

/** The UTC day of an instant as `yyyymmdd`, the suffix of daily counter keys. */
export function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10).replaceAll('-', '')
}
