import { type Dispatcher, request } from 'undici'
import { withTimeoutSignal } from '../timeout-signal.js'

/** JSON POSTs with undici (upstream ad networks); tests pass a MockAgent. */
export function createJsonTransport(dispatcher?: Dispatcher) {
  return {
    postJson(url: string, body: unknown, timeoutMs: number): Promise<{ status: number; body: unknown }> {
      // The answer's body is read within the same time limit.
      return withTimeoutSignal(timeoutMs, async (signal) => {
        const response = await request(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify(body),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal,
          ...(dispatcher ? { dispatcher } : {}),
        })
        if (response.statusCode < 200 || response.statusCode >= 300) {
          await response.body.dump()
          return { status: response.statusCode, body: undefined }
        }
        return { status: response.statusCode, body: await response.body.json() }
      })
    },
  }
}
