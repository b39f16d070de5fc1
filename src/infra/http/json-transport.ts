import { type Dispatcher, request } from 'undici'

/** JSON POSTs with undici (upstream ad networks); tests pass a MockAgent. */
export function createJsonTransport(dispatcher?: Dispatcher) {
  return {
    async postJson(
      url: string,
      body: unknown,
      timeoutMs: number,
    ): Promise<{ status: number; body: unknown }> {
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
        ...(dispatcher ? { dispatcher } : {}),
      })
      if (response.statusCode < 200 || response.statusCode >= 300) {
        await response.body.dump()
        return { status: response.statusCode, body: undefined }
      }
      return { status: response.statusCode, body: await response.body.json() }
    },
  }
}
