import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb'
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'

export type DynamoSettings = {
  region: string
  endpoint?: string | undefined
  /** Explicit credentials (tests, DynamoDB Local); otherwise the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined
}

export type DynamoConnection = {
  doc: DynamoDBDocumentClient
  client: DynamoDBClient
  close(): void
}

/** Opens the AWS SDK v3 client and its document-client wrapper. */
export function openDynamo({ region, endpoint, credentials }: DynamoSettings): DynamoConnection {
  const client = new DynamoDBClient({
    region,
    ...(endpoint ? { endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    maxAttempts: 3,
  })
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  })
  return { doc, client, close: () => client.destroy() }
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
