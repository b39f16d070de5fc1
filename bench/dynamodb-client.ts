/**
 * `npm run bench:dynamodb`: this process's CPU per DynamoDB call on a cold device's path (a partition
 * `Query`, then the conditional `PutItem` of its registration), per client, against dynalite started as a
 * child process (its own CPU is not counted). Each client runs the same operations in rounds, interleaved
 * so a busy machine hurts them alike; the ratio to the first client is taken within the run.
 *
 *   npm run bench:dynamodb -- --ops 4000 --concurrency 16 --rounds 3
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { parseArgs } from 'node:util'
import awsLite from '@aws-lite/client'
import awsLiteDynamo from '@aws-lite/dynamodb'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb'
import {
  type DynamoClientKind,
  dynamoCall,
  ensureDeviceTable,
  openDynamo,
} from '../src/infra/dynamodb/dynamodb.js'
import type { DynamoOperation } from '../src/infra/dynamodb/dynamodb-http.js'
import { freePort } from '../test/helpers/net.js'

const { values: args } = parseArgs({
  options: {
    ops: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
    /** Clients to run by position (0 = before, 1 = SDK tuned, 2 = aws-lite, 3 = lean), e.g. `0,3`. */
    only: { type: 'string' },
  },
})
const OPS = Number(args.ops)
const CONCURRENCY = Number(args.concurrency)
const ROUNDS = Number(args.rounds)
const TABLE = 'allot_bench_client'
const CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' }
const TIMEOUT_MS = 5_000

/** One client under test: a cold device's partition read, and its registration's conditional put. */
type Client = {
  name: string
  query(deviceId: number): Promise<unknown>
  register(deviceId: number, unitId: number, at: number): Promise<unknown>
  close(): void
}

/**
 * (a) What Allot ran before (commit 647dbcb): lib-dynamodb's document client over the SDK's default HTTP
 * handler, the same Query and conditional Put the device repository made.
 */
function sdkBefore(endpoint: string): Client {
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint,
    credentials: CREDENTIALS,
    maxAttempts: 2,
    requestHandler: {
      connectionTimeout: TIMEOUT_MS,
      requestTimeout: TIMEOUT_MS,
      throwOnRequestTimeout: true,
      socketAcquisitionWarningTimeout: 10 * TIMEOUT_MS,
    },
  })
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } })
  const options = () => ({ abortSignal: AbortSignal.timeout(TIMEOUT_MS) })
  return {
    name: 'AWS SDK v3 document client, default handler (before)',
    query: (id) =>
      doc.send(
        new QueryCommand({
          TableName: TABLE,
          KeyConditionExpression: 'device_id = :d',
          ExpressionAttributeValues: { ':d': id },
        }),
        options(),
      ),
    register: (id, unit, at) =>
      doc
        .send(
          new PutCommand({
            TableName: TABLE,
            Item: { device_id: id, sk: `reg#${unit}`, registered_at: at },
            ConditionExpression: 'attribute_not_exists(sk)',
          }),
          options(),
        )
        .catch(conditionFailed),
    close: () => client.destroy(),
  }
}

/**
 * (b), (d): `openDynamo`'s SDK transport (tuned) or its lean HTTP client, each call as the device repository
 * makes it (`dynamoCall`: the whole call bounded by an abort signal), with the same Query and conditional Put.
 */
function transport(kind: DynamoClientKind, name: string) {
  return (endpoint: string): Client => {
    const connection = openDynamo({
      region: 'us-east-1',
      endpoint,
      credentials: CREDENTIALS,
      timeoutMs: TIMEOUT_MS,
      client: kind,
    })
    const call = (operation: DynamoOperation, input: object) =>
      dynamoCall((signal) => connection.transport.call(operation, input, signal), TIMEOUT_MS)
    return {
      name,
      query: (id) =>
        call('Query', {
          TableName: TABLE,
          KeyConditionExpression: 'device_id = :d',
          ExpressionAttributeValues: { ':d': { N: String(id) } },
        }),
      register: (id, unit, at) =>
        call('PutItem', {
          TableName: TABLE,
          Item: { device_id: { N: String(id) }, sk: { S: `reg#${unit}` }, registered_at: { N: String(at) } },
          ConditionExpression: 'attribute_not_exists(sk)',
        }).catch(conditionFailed),
      close: () => void connection.close(),
    }
  }
}

/** (c) @aws-lite/client + @aws-lite/dynamodb (no abort signal: a call cannot be cancelled). */
async function awsLiteClient(endpoint: string): Promise<Client> {
  const aws = (await awsLite({
    ...CREDENTIALS,
    region: 'us-east-1',
    endpoint,
    keepAlive: true,
    retries: 1,
    plugins: [awsLiteDynamo],
  })) as unknown as { DynamoDB: Record<'Query' | 'PutItem', (input: object) => Promise<unknown>> }
  return {
    name: '@aws-lite/client + @aws-lite/dynamodb',
    query: (id) =>
      aws.DynamoDB.Query({
        TableName: TABLE,
        KeyConditionExpression: 'device_id = :d',
        ExpressionAttributeValues: { ':d': id },
      }),
    register: (id, unit, at) =>
      aws.DynamoDB.PutItem({
        TableName: TABLE,
        Item: { device_id: id, sk: `reg#${unit}`, registered_at: at },
        ConditionExpression: 'attribute_not_exists(sk)',
      }).catch(conditionFailed),
    close: () => {},
  }
}

function conditionFailed(err: unknown): void {
  const e = err as { name?: string; error?: { __type?: string } }
  if (
    e.name === 'ConditionalCheckFailedException' ||
    e.error?.__type?.endsWith('ConditionalCheckFailedException')
  )
    return
  throw err
}

/** Runs `op` `count` times, `CONCURRENCY` at once; returns this process's CPU ms per op. */
async function cpuPerOp(count: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0
  const worker = async () => {
    while (next < count) await op(next++)
  }
  const before = process.cpuUsage()
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const used = process.cpuUsage(before)
  return (used.user + used.system) / 1000 / count
}

type Row = { name: string; query: number[]; put: number[] }

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  const port = await freePort()
  const dynalite = spawn(process.execPath, ['node_modules/dynalite/cli.js', '--port', String(port)], {
    stdio: 'ignore',
  })
  const endpoint = `http://127.0.0.1:${port}`
  try {
    const setup = openDynamo({ region: 'us-east-1', endpoint, credentials: CREDENTIALS })
    for (let i = 0; ; i++) {
      try {
        await ensureDeviceTable(setup.client, TABLE)
        break
      } catch (err) {
        if (i > 50) throw err
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    setup.close()
    const all = await Promise.all(
      [
        sdkBefore,
        transport(
          'sdk',
          'AWS SDK v3 low-level client, keep-alive agent, hand marshalling (DYNAMODB_CLIENT=sdk)',
        ),
        awsLiteClient,
        transport(
          'http',
          "Allot's lean client: SigV4 + undici pool, hand marshalling (DYNAMODB_CLIENT=http)",
        ),
      ].map((f) => f(endpoint)),
    )
    const picked = args.only?.split(',').map(Number)
    const clients = picked ? all.filter((_, i) => picked.includes(i)) : all
    const rows: Row[] = clients.map((c) => ({ name: c.name, query: [], put: [] }))
    let device = 1 + Math.floor(Math.random() * 2 ** 40)
    // Warm-up: JIT, sockets.
    for (const c of clients) await cpuPerOp(300, () => c.query(device++).then(() => c.register(device, 1, 1)))
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, c] of clients.entries()) {
        const first = device
        const row = rows[i] as Row
        row.query.push(await cpuPerOp(OPS, (n) => c.query(first + n)))
        row.put.push(await cpuPerOp(OPS, (n) => c.register(first + n, 1001, Date.now())))
        device += OPS
      }
      process.stderr.write(`round ${round + 1} of ${ROUNDS} done\n`)
    }
    for (const c of clients) c.close()
    report(rows)
  } finally {
    dynalite.kill('SIGTERM')
    await once(dynalite, 'exit')
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

function report(rows: Row[]): void {
  const base = rows[0] as Row
  console.log(
    `\n${OPS} ops per measurement, ${CONCURRENCY} in flight, ${ROUNDS} rounds (median), node ${process.version}\n`,
  )
  console.log('| client | CPU ms / Query | ÷ before | CPU ms / conditional PutItem | ÷ before |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const r of rows) {
    const q = median(r.query)
    const p = median(r.put)
    console.log(
      `| ${r.name} | ${q.toFixed(3)} | ${(q / median(base.query)).toFixed(2)} | ${p.toFixed(3)} | ${(p / median(base.put)).toFixed(2)} |`,
    )
  }
}

await main()
