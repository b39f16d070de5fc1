import { Pool } from 'undici'
import type { AwsCredentials } from './sigv4.js'
import { createPostSigner } from './sigv4.js'

/** The DynamoDB data-plane operations Allot's repository makes. */
export type DynamoOperation = 'GetItem' | 'PutItem' | 'Query' | 'Scan' | 'BatchGetItem' | 'BatchWriteItem'

/**
 * One DynamoDB API call, input and output in the service's own JSON (attribute values as `{ N: '1' }`),
 * cancelled when `signal` aborts. Errors carry the service's `name` (e.g. ConditionalCheckFailedException),
 * `$fault: 'server'` for a 5xx, or the socket's `code`.
 */
export type DynamoTransport = {
  call(operation: DynamoOperation, input: object, signal: AbortSignal): Promise<Record<string, unknown>>
  close(): Promise<void>
}

export type DynamoHttpSettings = {
  region: string
  /** `https://dynamodb.<region>.amazonaws.com` when unset. */
  endpoint?: string | undefined
  /** Credentials when asked (the AWS SDK's default chain in production); kept until 5 minutes before they expire. */
  credentials: () => Promise<AwsCredentials & { expiration?: Date | undefined }>
  /** Connecting and each attempt's answer; the caller's signal bounds the call as a whole. */
  timeoutMs: number
  /** Sockets kept open to DynamoDB. */
  connections?: number | undefined
}

const REFRESH_MS = 5 * 60_000
/** Failures a second attempt may cure: throttles, the service's own errors, dropped connections. */
const RETRYABLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
])

/**
 * A lean DynamoDB client: SigV4-signed JSON POSTs over one undici keep-alive pool, at most two attempts.
 * It does what the AWS SDK's middleware stack does for these operations at a fraction of the CPU.
 */
export function openDynamoHttp(settings: DynamoHttpSettings): DynamoTransport {
  const origin = new URL(settings.endpoint ?? defaultEndpoint(settings.region))
  const pool = new Pool(origin.origin, {
    connections: settings.connections ?? 64,
    connectTimeout: settings.timeoutMs,
    headersTimeout: settings.timeoutMs,
    bodyTimeout: settings.timeoutMs,
    keepAliveTimeout: 30_000,
  })
  const sign = createPostSigner(settings.region, 'dynamodb')
  let credentials: { value: AwsCredentials; until: number } | undefined
  const currentCredentials = async (): Promise<AwsCredentials> => {
    if (credentials && Date.now() < credentials.until) return credentials.value
    const value = await settings.credentials()
    credentials = { value, until: (value.expiration?.getTime() ?? Number.POSITIVE_INFINITY) - REFRESH_MS }
    return value
  }

  async function attempt(operation: DynamoOperation, body: string, signal: AbortSignal) {
    const headers = await sign(
      origin.host,
      { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${operation}` },
      body,
      await currentCredentials(),
      new Date(),
    )
    const res = await pool.request({ path: '/', method: 'POST', headers, body, signal })
    const text = await res.body.text()
    const payload = text ? (JSON.parse(text) as Record<string, unknown>) : {}
    if (res.statusCode === 200) return payload
    throw serviceError(res.statusCode, payload)
  }

  return {
    async call(operation, input, signal) {
      const body = JSON.stringify(input)
      try {
        return await attempt(operation, body, signal)
      } catch (err) {
        if (signal.aborted || !retryable(err)) throw err
        await new Promise((r) => setTimeout(r, 10 + Math.random() * 40))
        signal.throwIfAborted()
        return attempt(operation, body, signal)
      }
    },
    /** Waits for calls in flight (each bounded by its signal and the pool's timeouts); twice is once. */
    close: async () => {
      if (!pool.closed && !pool.destroyed) await pool.close()
    },
  }
}

function defaultEndpoint(region: string): string {
  return `https://dynamodb.${region}.amazonaws.${region.startsWith('cn-') ? 'com.cn' : 'com'}`
}

/** The service's error answer as an Error named by its type (`com.amazonaws…#ConditionalCheckFailedException`). */
function serviceError(status: number, payload: Record<string, unknown>): Error {
  const type = String(payload.__type ?? `HTTP ${status}`)
  const err = new Error(String(payload.message ?? payload.Message ?? type)) as Error & {
    $fault: 'client' | 'server'
    statusCode: number
  }
  err.name = type.slice(type.lastIndexOf('#') + 1)
  err.$fault = status >= 500 ? 'server' : 'client'
  err.statusCode = status
  return err
}

function retryable(err: unknown): boolean {
  const { name = '', code, $fault } = err as { name?: string; code?: string; $fault?: string }
  return $fault === 'server' || RETRYABLE_NAMES.has(name) || (code !== undefined && $fault === undefined)
}
