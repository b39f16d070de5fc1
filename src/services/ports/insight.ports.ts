import type { ReportCounterQuery, ReportCounterRow, ReportIncrement } from '../../domain/report.js'

/* Ports of the insight feature: the durable report counters (SQL), written in batches and read by range. */

/** Where the tally's increments go (the SQL report counters): one call adds them all, or none. */
export type ReportCounterSink = { add(increments: readonly ReportIncrement[]): Promise<void> }

/** The durable report counters (SQL), read by range. */
export type ReportCounterSource = { read(query: ReportCounterQuery): Promise<ReportCounterRow[]> }
