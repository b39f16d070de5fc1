import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb'
import { createPostSigner } from '../../src/infra/dynamodb/sigv4.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
}

/** The headers and body the AWS SDK v3's DynamoDBClient sends for one Query (answered `{}`). */
async function sdkRequest(region: string, creds: typeof credentials & { sessionToken?: string }) {
  let seen: { headers: IncomingHttpHeaders; body: string } | undefined
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => {
      body += chunk
    })
    req.on('end', () => {
      seen = { headers: req.headers, body }
      res.setHeader('content-type', 'application/x-amz-json-1.0')
      res.end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const client = new DynamoDBClient({ region, endpoint, credentials: creds, maxAttempts: 1 })
  try {
    await client.send(
      new QueryCommand({
        TableName: 'allot_device_profiles',
        KeyConditionExpression: 'device_id = :d',
        ExpressionAttributeValues: { ':d': { N: '42' } },
      }),
    )
  } finally {
    client.destroy()
    server.close()
  }
  return seen ?? assert.fail('the SDK sent nothing')
}

/** x-amz-date (20261204T061119Z) as a Date. */
const amzDate = (v: string) =>
  new Date(`${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 11)}:${v.slice(11, 13)}:${v.slice(13, 15)}Z`)

for (const [what, region, creds] of [
  ['static keys', 'ap-northeast-2', credentials],
  [
    'temporary keys (a session token)',
    'us-east-1',
    { ...credentials, sessionToken: 'FwoGZXIvYXdzEXAMPLE//token=' },
  ],
] as const) {
  test(`the lean client signs a request as the AWS SDK's DynamoDBClient does: ${what}`, async () => {
    const sent = await sdkRequest(region, creds)
    const date = String(sent.headers['x-amz-date'])
    const ours = await createPostSigner(region, 'dynamodb')(
      String(sent.headers.host),
      { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': String(sent.headers['x-amz-target']) },
      sent.body,
      creds,
      amzDate(date),
    )
    // The SDK also signs headers SigV4 leaves optional (content-length, x-amz-content-sha256, its own
    // amz-sdk-*): signed over the same headers, the lean signer must write the SDK's signature exactly.
    const sdkSigned = /SignedHeaders=([^,]+)/.exec(String(sent.headers.authorization))?.[1]?.split(';') ?? []
    const extra = sdkSigned.filter((h) => !(h in ours))
    assert.deepEqual(
      extra.filter((h) => !/^(amz-sdk-|x-amz-user-agent|content-length$|x-amz-content-sha256$)/.test(h)),
      [],
      'the SDK signs only optional headers besides those the lean client signs',
    )
    const resigned = await createPostSigner(region, 'dynamodb')(
      String(sent.headers.host),
      {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': String(sent.headers['x-amz-target']),
        ...Object.fromEntries(extra.map((h) => [h, String(sent.headers[h])])),
      },
      sent.body,
      creds,
      amzDate(date),
    )
    assert.equal(resigned.authorization, sent.headers.authorization)
    assert.equal(ours['x-amz-date'], date)
    assert.equal(ours['x-amz-security-token'], sent.headers['x-amz-security-token'])
  })
}

test('a changed body, target or secret changes the signature; the cached key signs the same', async () => {
  const sign = createPostSigner('us-east-1', 'dynamodb')
  const headers = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.Query' }
  const at = new Date('2026-12-04T06:11:19Z')
  const base = (await sign('h', headers, '{}', credentials, at)).authorization
  assert.notEqual((await sign('h', headers, '{ }', credentials, at)).authorization, base)
  assert.notEqual(
    (await sign('h', { ...headers, 'x-amz-target': 'DynamoDB_20120810.PutItem' }, '{}', credentials, at))
      .authorization,
    base,
  )
  assert.notEqual(
    (await sign('h', headers, '{}', { ...credentials, secretAccessKey: 'other' }, at)).authorization,
    base,
  )
  assert.equal((await sign('h', headers, '{}', credentials, at)).authorization, base)
})
