import { type Dispatcher, request } from 'undici'
import { withTimeoutSignal } from '../timeout-signal.js'

/** Sends form POSTs with undici; tests pass a MockAgent (or set it as the global dispatcher). */
export function createUndiciTransport(dispatcher?: Dispatcher) {
  return {
    post(
      url: string,
      headers: Record<string, string>,
      body: string,
      timeoutMs: number,
      signal?: AbortSignal,
    ): Promise<number> {
      return withTimeoutSignal(timeoutMs, async (timeout) => {
        const response = await request(url, {
          method: 'POST',
          headers,
          body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
          ...(dispatcher ? { dispatcher } : {}),
        })
        // The answer's body is not needed, but it must be consumed so the connection can be reused.
        await response.body.dump()
        return response.statusCode
      })
    },
  }
}
