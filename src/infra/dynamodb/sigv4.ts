import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto'
import { SignatureV4 } from '@smithy/signature-v4'

export type AwsCredentials = {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string | undefined
}

type SourceData = string | ArrayBuffer | ArrayBufferView

const bytes = (data: SourceData): Buffer | string =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data)

/** SHA-256 (HMAC-SHA256 with a secret) from node:crypto, in the shape the Smithy signer takes. */
class NodeSha256 {
  private readonly hash: Hash | Hmac
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret))
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data))
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest())
  }
}

/**
 * AWS Signature Version 4 for a JSON POST to `/` of one service (DynamoDB's whole data plane), by the AWS SDK's
 * own signer (`@smithy/signature-v4`, which also caches the signing key per day and scope): the headers to
 * send, `authorization` included.
 */
export function createPostSigner(region: string, service: string) {
  const signers = new Map<string, SignatureV4>()
  const signerFor = (credentials: AwsCredentials) => {
    const key = `${credentials.accessKeyId}\n${credentials.secretAccessKey}\n${credentials.sessionToken ?? ''}`
    let signer = signers.get(key)
    if (!signer) {
      // One signer per credentials: rotated credentials replace the old ones rather than pile up.
      signers.clear()
      signer = new SignatureV4({ credentials, region, service, sha256: NodeSha256, uriEscapePath: true })
      signers.set(key, signer)
    }
    return signer
  }
  return async function sign(
    host: string,
    headers: Readonly<Record<string, string>>,
    body: string,
    credentials: AwsCredentials,
    now: Date,
  ): Promise<Record<string, string>> {
    const [hostname, port] = host.split(':')
    const signed = await signerFor(credentials).sign(
      {
        method: 'POST',
        protocol: 'https:',
        hostname: hostname as string,
        ...(port ? { port: Number(port) } : {}),
        path: '/',
        query: {},
        headers: { ...headers, host },
        body,
      },
      { signingDate: now },
    )
    return signed.headers
  }
}
