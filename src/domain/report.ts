/**
 * Delivery report counters (docs/architecture.md §3, insight). Each is a durable SQL row keyed (kind, unit,
 * campaign, day, metric) whose value only moves by increments: allocations add theirs in batches, events as
 * they happen. Days are the unit's local calendar days, `yyyy-mm-dd`.
 */

/** Per campaign (and unit) and day, or per unit and day. */
export type ReportKind = 'campaign' | 'unit'

/** One increment of one report counter. */
export type ReportIncrement = {
  kind: ReportKind
  unitId: number
  /** 0 on unit counters. */
  campaignId: number
  day: string
  metric: string
  by: number
}

/** One stored report counter. */
export type ReportCounterRow = {
  unitId: number
  campaignId: number
  day: string
  metric: string
  value: number
}

/** Which counters a report reads: one kind, a range of days (both included), optionally one unit / campaign. */
export type ReportCounterQuery = {
  kind: ReportKind
  from: string
  to: string
  unitId?: number | undefined
  campaignId?: number | undefined
}

/** Whether an increment is one of the counters `query` reads. */
export function matchesQuery(query: ReportCounterQuery, i: ReportIncrement): boolean {
  return (
    i.kind === query.kind &&
    i.day >= query.from &&
    i.day <= query.to &&
    (query.unitId === undefined || i.unitId === query.unitId) &&
    (query.campaignId === undefined || i.campaignId === query.campaignId)
  )
}

/** Campaign counters. Rewards are counted per action type (`u` unlock, `l` landing): rewardMetrics(). */
export const CAMPAIGN_METRICS = {
  /** Allocation answers that included the campaign. */
  allocations: 'allocations',
  impressions: 'impressions',
  clicks: 'clicks',
  unlocks: 'unlocks',
  /**
   * Impressions, clicks and unlocks that arrived while the campaign was paused or outside its window, its
   * unit inactive, or through an expired payload: shown, never counted as delivery, caps or budget.
   */
  ineligible: 'ineligible',
  /** Deliveries in the campaign's budget unit (impressions or clicks, per its budget_type). */
  budgetSpent: 'budget_spent',
  /** Postbacks written (one per grant when the unit has a postback URL); pending = these − delivered − failed. */
  postbacks: 'postbacks',
  postbacksDelivered: 'postbacks_delivered',
  postbacksFailed: 'postbacks_failed',
} as const

/** The reward counters of one action type: grants and points (base part included). */
export function rewardMetrics(action: string): { count: string; points: string } {
  return { count: `rewards_${action}`, points: `points_${action}` }
}

/** Unit counters. */
export const UNIT_METRICS = {
  requests: 'requests',
  /** Items in the answers (ads, upstream ads and contents). */
  items: 'items',
  /** min(items, page_limit) per answer, and page_limit per answer: fill rate = filled ÷ page_slots. */
  filled: 'filled',
  pageSlots: 'page_slots',
  /** Answers without a single item. */
  empty: 'empty',
} as const

/** Upper bounds (ms, inclusive) of the allocation latency histogram; one more bucket holds the rest. */
export const LATENCY_BOUNDS_MS = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000, 2000]

/** The histogram bucket of a latency (index into latencyMetric). */
export function latencyBucket(ms: number): number {
  let i = 0
  while (i < LATENCY_BOUNDS_MS.length && ms > (LATENCY_BOUNDS_MS[i] as number)) i++
  return i
}

/** The counter name of histogram bucket `i`: `latency_le_<ms>`, the last one `latency_le_inf`. */
export function latencyMetric(i: number): string {
  const bound = LATENCY_BOUNDS_MS[i]
  return bound === undefined ? 'latency_le_inf' : `latency_le_${bound}`
}

/**
 * The `q` quantile (0–1) of a histogram (counts per bucket, one more bucket than `bounds`: the last is open),
 * interpolated linearly inside its bucket; a quantile in the last, open bucket reads as its lower bound.
 * Null without observations. The reports' bounds by default; the dashboard passes /metrics' ones.
 */
export function histogramQuantile(
  counts: readonly number[],
  q: number,
  bounds: readonly number[] = LATENCY_BOUNDS_MS,
): number | null {
  const total = counts.reduce((a, b) => a + b, 0)
  if (total === 0) return null
  const rank = q * total
  let below = 0
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] as number
    if (n > 0 && below + n >= rank) {
      const lower = i === 0 ? 0 : (bounds[i - 1] as number)
      const upper = bounds[i]
      if (upper === undefined) return lower
      return lower + ((upper - lower) * Math.max(0, rank - below)) / n
    }
    below += n
  }
  return bounds[bounds.length - 1] as number
}

/** The longest range a report covers, in days (both ends included). */
export const MAX_REPORT_DAYS = 92

const DAY_MS = 86_400_000

/** Epoch ms of an ISO date's UTC midnight, or NaN when it is not a real date. */
export function isoDayValue(day: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return Number.NaN
  const value = Date.parse(`${day}T00:00:00Z`)
  return Number.isNaN(value) || new Date(value).toISOString().slice(0, 10) !== day ? Number.NaN : value
}

/** How many days `from`..`to` spans, both included (≤ 0 when `to` is before `from`). */
export function daysBetween(from: string, to: string): number {
  return Math.round((isoDayValue(to) - isoDayValue(from)) / DAY_MS) + 1
}
