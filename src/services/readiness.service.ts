import { DependencyUnavailable } from '../domain/errors.js'

/** One dependency's liveness: resolves when it answers (a ping, a trivial read). */
export type DependencyCheck = () => Promise<unknown>

type Deps = {
  /** The stores this process cannot serve without, by name (database, dynamodb). */
  checks: Readonly<Record<string, DependencyCheck>>
  /** Dependencies it serves without, degraded (redis: a cache and a lock, never a store of record). */
  optional?: Readonly<Record<string, DependencyCheck>> | undefined
  /** Longest one check may take; every check runs at once, so an answer comes within about this. */
  timeoutMs: number
  /** When the catalog last reached its store, and how old that may get before the process is not ready. */
  catalogCheckedAt: () => number
  catalogStaleAfterMs: number
  /** True once the process is shutting down: it is then never ready. */
  closing: () => boolean
  clock: () => number
}

/** `degraded`: the optional dependencies that do not answer (the process serves without them). */
export type Readiness = { ok: boolean; checks: Record<string, string>; degraded: string[] }

/**
 * Whether this process should get traffic: every required dependency answers within the time limit, the
 * catalog is fresh, and the process is not shutting down. Each check reads 'ok', 'unreachable', 'timeout'
 * or 'stale (<age> ms)'; an optional dependency that fails is listed in `degraded` and keeps the process
 * ready.
 */
export function createReadiness({
  checks,
  optional = {},
  timeoutMs,
  catalogCheckedAt,
  catalogStaleAfterMs,
  closing,
  clock,
}: Deps): () => Promise<Readiness> {
  return async () => {
    if (closing()) return { ok: false, checks: { process: 'shutting down' }, degraded: [] }
    const states: Record<string, string> = {}
    await Promise.all(
      Object.entries({ ...checks, ...optional }).map(async ([name, check]) => {
        states[name] = await probe(check, timeoutMs)
      }),
    )
    // Stale = the store has not been reached for a while (the snapshot itself may be older: unchanged).
    const age = clock() - catalogCheckedAt()
    states.catalog = age < catalogStaleAfterMs ? 'ok' : `stale (${age} ms)`
    const degraded = Object.keys(optional).filter((name) => states[name] !== 'ok')
    const required = Object.entries(states).filter(([name]) => !(name in optional))
    return { ok: required.every(([, s]) => s === 'ok'), checks: states, degraded }
  }
}

/** A check's state within `timeoutMs`: 'ok', 'unreachable' or 'timeout'. */
function probe(check: DependencyCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs)
  })
  const answer = check().then(
    () => 'ok',
    (err) => (err instanceof DependencyUnavailable && err.reason === 'timeout' ? 'timeout' : 'unreachable'),
  )
  return Promise.race([answer, late]).finally(() => clearTimeout(timer))
}
