import { type Dispatcher, request } from 'undici'

/** Sends form POSTs with undici; tests pass a MockAgent (or set it as the global dispatcher). */
export function createUndiciTransport(dispatcher?: Dispatcher) {
  return {
    async post(
      url: string,
      headers: Record<string, string>,
      body: string,
      timeoutMs: number,
      signal?: AbortSignal,
    ): Promise<number> {
      const timeout = AbortSignal.timeout(timeoutMs)
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
    },
  }
}
