import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb'
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb'
import { DependencyUnavailable } from '../../domain/errors.js'

export type DynamoSettings = {
  region: string
  endpoint?: string | undefined
  /** Explicit credentials (tests, DynamoDB Local); otherwise the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined
  /** Longest one HTTP attempt may take to connect, and to answer (ms); see also dynamoCall. */
  timeoutMs?: number | undefined
}

export type DynamoConnection = {
  doc: DynamoDBDocumentClient
  client: DynamoDBClient
  close(): void
}

/** Opens the AWS SDK v3 client and its document-client wrapper. */
export function openDynamo({ region, endpoint, credentials, timeoutMs }: DynamoSettings): DynamoConnection {
  const client = new DynamoDBClient({
    region,
    ...(endpoint ? { endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    // One retry at most: a slow store is not made slower by retrying it; callers degrade instead.
    maxAttempts: 2,
    ...(timeoutMs
      ? {
          requestHandler: {
            connectionTimeout: timeoutMs,
            requestTimeout: timeoutMs,
            throwOnRequestTimeout: true,
            socketAcquisitionWarningTimeout: 10 * timeoutMs,
          },
        }
      : {}),
  })
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  })
  return { doc, client, close: () => client.destroy() }
}

/** Resolves when the device table answers a one-item read (device 0, which never exists) within `timeoutMs`. */
export async function pingDeviceTable(
  doc: DynamoDBDocumentClient,
  table: string,
  timeoutMs: number,
): Promise<void> {
  await dynamoCall(
    (options) =>
      doc.send(new GetCommand({ TableName: table, Key: { device_id: 0, sk: 'profile' } }), options),
    timeoutMs,
  )
}

/**
 * Creates the device table when it is missing (device_id number + sk string, on-demand capacity) and turns
 * on TTL for `expires_at`. Servers without UpdateTimeToLive (dynalite) keep working: reads filter by time.
 */
export async function ensureDeviceTable(
  client: DynamoDBClient,
  table: string,
): Promise<'created' | 'exists'> {
  try {
    await client.send(new DescribeTableCommand({ TableName: table }))
    return 'exists'
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException) && (err as Error).name !== 'ResourceNotFoundException')
      throw err
  }
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [
        { AttributeName: 'device_id', AttributeType: 'N' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'device_id', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  )
  for (let i = 0; i < 100; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }))
    if (Table?.TableStatus === 'ACTIVE') break
    await new Promise((r) => setTimeout(r, 50))
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      }),
    )
  } catch {
    // dynalite has no TTL API; items past expires_at are filtered out on read instead.
  }
  return 'created'
}

// Names and codes that mean "DynamoDB, or the way to it, is not answering now".
const THROTTLED = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'LimitExceededException',
])
const TIMED_OUT = new Set(['TimeoutError', 'AbortError', 'RequestTimeout', 'RequestTimeoutException'])
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND'])

/**
 * One DynamoDB call bounded by `timeoutMs` as a whole (retries and waiting for a socket included: the
 * request is aborted, not just abandoned). An outage, a throttle or a timeout becomes
 * DependencyUnavailable('dynamodb'); the call's own errors (a failed condition, a bad request) pass through.
 */
export async function dynamoCall<T>(
  send: (options: { abortSignal: AbortSignal }) => Promise<T>,
  timeoutMs: number,
): Promise<T> {
  try {
    return await send({ abortSignal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    const { name = '', code = '', $fault } = err as { name?: string; code?: string; $fault?: string }
    if (TIMED_OUT.has(name)) throw new DependencyUnavailable('dynamodb', 'timeout', err)
    if (THROTTLED.has(name)) throw new DependencyUnavailable('dynamodb', 'overloaded', err)
    if ($fault === 'server' || NETWORK.has(code))
      throw new DependencyUnavailable('dynamodb', 'unreachable', err)
    throw err
  }
}
