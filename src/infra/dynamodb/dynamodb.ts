import { Agent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceNotFoundException,
  ScanCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb'
import { DependencyUnavailable } from '../../domain/errors.js'
import { withTimeoutSignal } from '../timeout-signal.js'
import { type DynamoOperation, type DynamoTransport, openDynamoHttp } from './dynamodb-http.js'

export type DynamoSettings = {
  region: string
  endpoint?: string | undefined
  /** Explicit credentials (tests, DynamoDB Local); otherwise the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined
  /** Longest one HTTP attempt may take to connect, and to answer (ms); see also dynamoCall. */
  timeoutMs?: number | undefined
  /** Which client makes the data-plane calls: Allot's lean HTTP client (default) or the AWS SDK v3. */
  client?: DynamoClientKind | undefined
}

export type DynamoClientKind = 'http' | 'sdk'

export type DynamoConnection = {
  /** The data plane: GetItem, PutItem, Query, Scan (migrations only), BatchGetItem, BatchWriteItem. */
  transport: DynamoTransport
  /** The AWS SDK client: the table's creation (migrations) and the credential chain. */
  client: DynamoDBClient
  close(): Promise<void>
}

/** Sockets kept open to DynamoDB per process (more than DEVICE_LOADS_MAX's default never wait long). */
const SOCKETS = 64

/**
 * Opens the AWS SDK v3 client (table management, credentials from its default chain) and the data-plane
 * transport: the lean HTTP client, or the SDK's own client with its CPU-saving settings.
 */
export function openDynamo({
  region,
  endpoint,
  credentials,
  timeoutMs,
  client: kind = 'http',
}: DynamoSettings): DynamoConnection {
  const client = new DynamoDBClient({
    region,
    ...(endpoint ? { endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    // One retry at most: a slow store is not made slower by retrying it; callers degrade instead.
    maxAttempts: 2,
    requestHandler: {
      httpAgent: new Agent({ keepAlive: true, maxSockets: SOCKETS }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: SOCKETS }),
      ...(timeoutMs
        ? {
            connectionTimeout: timeoutMs,
            requestTimeout: timeoutMs,
            throwOnRequestTimeout: true,
            socketAcquisitionWarningTimeout: 10 * timeoutMs,
          }
        : {}),
    },
  })
  const transport =
    kind === 'sdk'
      ? sdkTransport(client)
      : openDynamoHttp({
          region,
          endpoint,
          credentials: () => client.config.credentials(),
          timeoutMs: timeoutMs ?? 5_000,
          connections: SOCKETS,
        })
  return {
    transport,
    client,
    async close() {
      await transport.close()
      client.destroy()
    },
  }
}

/** The data plane through the AWS SDK's low-level client: the same JSON in and out, its middleware between. */
function sdkTransport(client: DynamoDBClient): DynamoTransport {
  const commands = {
    GetItem: GetItemCommand,
    PutItem: PutItemCommand,
    Query: QueryCommand,
    Scan: ScanCommand,
    BatchGetItem: BatchGetItemCommand,
    BatchWriteItem: BatchWriteItemCommand,
  } satisfies Record<DynamoOperation, unknown>
  return {
    async call(operation, input, signal) {
      const Command = commands[operation] as unknown as new (input: object) => GetItemCommand
      return (await client.send(new Command(input), { abortSignal: signal })) as unknown as Record<
        string,
        unknown
      >
    },
    close: async () => {},
  }
}

/** Resolves when the device table answers a one-item read (device 0, which never exists) within `timeoutMs`. */
export async function pingDeviceTable(
  transport: DynamoTransport,
  table: string,
  timeoutMs: number,
): Promise<void> {
  await dynamoCall(
    (signal) =>
      transport.call(
        'GetItem',
        { TableName: table, Key: { device_id: { N: '0' }, sk: { S: 'profile' } } },
        signal,
      ),
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
const TIMED_OUT = new Set([
  'TimeoutError',
  'AbortError',
  'RequestTimeout',
  'RequestTimeoutException',
  // undici's own limits (the lean client): connecting, the answer's headers, its body.
  'ConnectTimeoutError',
  'HeadersTimeoutError',
  'BodyTimeoutError',
])
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
])

/**
 * One DynamoDB call bounded by `timeoutMs` as a whole (retries and waiting for a socket included: the
 * request is aborted, not just abandoned). An outage, a throttle or a timeout becomes
 * DependencyUnavailable('dynamodb'); the call's own errors (a failed condition, a bad request) pass through.
 */
export async function dynamoCall<T>(
  send: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number,
): Promise<T> {
  try {
    return await withTimeoutSignal(timeoutMs, send)
  } catch (err) {
    const { name = '', code = '', $fault } = err as { name?: string; code?: string; $fault?: string }
    if (TIMED_OUT.has(name)) throw new DependencyUnavailable('dynamodb', 'timeout', err)
    if (THROTTLED.has(name)) throw new DependencyUnavailable('dynamodb', 'overloaded', err)
    if ($fault === 'server' || NETWORK.has(code))
      throw new DependencyUnavailable('dynamodb', 'unreachable', err)
    throw err
  }
}
