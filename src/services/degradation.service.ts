import type { Logger } from './ports/logger.ports.js'

type Deps = {
  logger: Logger
  /** Told of every allocation step left out for its deadline (a metric), however few get logged. */
  onDeadlineMissed: () => void
  /** One log line per kind per window at most, then a count. */
  windowMs?: number
}

/**
 * Where the serving path reports what it did without: a best-effort step that failed (a cache fill, a
 * registration note, a publish) and a part of an allocation left out for its deadline. Under load a slow or
 * dead store fails thousands of times a second; the log gets the first occurrence of each kind, then one
 * count per window.
 */
export function createDegradationReport({ logger, onDeadlineMissed, windowMs = 10_000 }: Deps) {
  const degraded = throttledWarning(
    logger,
    'degraded: a best-effort step failed; serving without it',
    windowMs,
  )
  const deadline = throttledWarning(
    logger,
    'left out of allocations: slower than ALLOCATION_DEADLINE_MS',
    windowMs,
  )
  return {
    /** A best-effort step failed; the request went on without it. */
    degraded,
    /** A part of an allocation (device data, an upstream network) came too late and was left out. */
    deadlineMissed(what: string): void {
      onDeadlineMissed()
      deadline(what)
    },
  }
}

/** A warning written for the first occurrence of each kind, then as a count once per window. */
function throttledWarning(logger: Logger, msg: string, windowMs: number) {
  const counts = new Map<string, number>()
  return (what: string, err?: unknown): void => {
    const seen = counts.get(what) ?? 0
    counts.set(what, seen + 1)
    if (seen > 0) return
    logger.warn({ what, err }, msg)
    setTimeout(() => {
      const more = (counts.get(what) ?? 1) - 1
      counts.delete(what)
      if (more > 0) logger.warn({ what, count: more }, `${msg} (again, in the last ${windowMs / 1000} s)`)
    }, windowMs).unref()
  }
}
