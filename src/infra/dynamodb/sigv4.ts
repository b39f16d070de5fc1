import { createHash, createHmac } from 'node:crypto'

export type AwsCredentials = {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string | undefined
}

const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest()
const sha256 = (data: string) => createHash('sha256').update(data).digest('hex')

/**
 * AWS Signature Version 4 for a JSON POST to `/` of one service (DynamoDB's whole data plane): the headers
 * to send, `authorization` included. The signing key is derived once per day, secret and scope.
 */
export function createPostSigner(region: string, service: string) {
  let cached: { scope: string; secret: string; key: Buffer } | undefined
  const signingKey = (day: string, secret: string) => {
    if (cached?.scope !== day || cached.secret !== secret) {
      const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request')
      cached = { scope: day, secret, key }
    }
    return cached.key
  }
  return function sign(
    host: string,
    headers: Readonly<Record<string, string>>,
    body: string,
    credentials: AwsCredentials,
    now: Date,
  ): Record<string, string> {
    const amzDate = now.toISOString().replace(/[-:]|\.\d{3}/g, '')
    const day = amzDate.slice(0, 8)
    const all: Record<string, string> = { ...headers, host, 'x-amz-date': amzDate }
    if (credentials.sessionToken) all['x-amz-security-token'] = credentials.sessionToken
    const names = Object.keys(all)
      .map((n) => n.toLowerCase())
      .sort()
    const lower = Object.fromEntries(Object.entries(all).map(([n, v]) => [n.toLowerCase(), v]))
    const canonicalHeaders = names
      .map((n) => `${n}:${String(lower[n]).trim().replace(/\s+/g, ' ')}\n`)
      .join('')
    const signedHeaders = names.join(';')
    const canonical = `POST\n/\n\n${canonicalHeaders}\n${signedHeaders}\n${sha256(body)}`
    const scope = `${day}/${region}/${service}/aws4_request`
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256(canonical)}`
    const signature = createHmac('sha256', signingKey(day, credentials.secretAccessKey))
      .update(toSign)
      .digest('hex')
    all.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`
    return all
  }
}
