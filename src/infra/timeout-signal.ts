/**
 * Runs `work` with a signal that aborts after `ms` with the TimeoutError `AbortSignal.timeout` gives, and
 * clears that timer as soon as `work` settles.
 *
 * `AbortSignal.timeout` keeps its timer, and through it the signal and what listens to it, until the time is
 * up, however early the call ended. With a DynamoDB timeout of 500 ms a busy process held hundreds of them,
 * and the scavenger copied them into the old generation, where only a full GC frees them
 * (docs/benchmarks.md, "The production path's garbage").
 */
export async function withTimeoutSignal<T>(
  ms: number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController()
  const timer = setTimeout(
    () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    ms,
  )
  try {
    return await work(controller.signal)
  } finally {
    clearTimeout(timer)
  }
}
