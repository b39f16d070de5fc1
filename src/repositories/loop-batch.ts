/**
 * DataLoader options shared by the repositories that batch store calls: the calls made while the event loop
 * handles one batch of sockets are sent together at the end of that iteration (setImmediate), in one
 * statement, script or socket write instead of one per request. No result is cached.
 */
export const PER_LOOP_ITERATION = {
  cache: false,
  batchScheduleFn: (send: () => void) => setImmediate(send),
} as const

/** A batch function's answer for a call that failed: the error itself (DataLoader rejects that call with it). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
