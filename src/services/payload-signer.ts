import { createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto'
import { PAYLOAD_GRACE_MS } from '../domain/sdk-v1.js'

/** What an item's payload binds: which device was shown which campaign on which unit, until when. */
export type PayloadClaims = {
  /** device_id */
  d: number
  /** unit_id */
  u: number
  /** local campaign id */
  c: number
  /** unit_device_token (publisher's user id), when the SDK sent it */
  t?: string
  /** expiry, epoch seconds (campaign end + 7 days, as v1) */
  exp: number
}

export type PayloadSigner = {
  sign(claims: PayloadClaims): string
  /** The claims if the token is authentic (expired or not), else undefined. */
  verify(token: string): PayloadClaims | undefined
}

/** MAC bytes kept: 128 bits is plenty against forgery and keeps click URLs short. */
const MAC_BYTES = 16

/**
 * Signs payloads as `base64url(JSON claims).base64url(HMAC-SHA256)` with PAYLOAD_SECRET. To the SDK the
 * token is an opaque string (URL-safe, so it survives the SDK's placeholder substitution into a query).
 */
export function createPayloadSigner(secret: string): PayloadSigner {
  // A Buffer key is measurably cheaper per createHmac call than a KeyObject on Node 20 (2.8 vs 3.3 µs).
  const key = Buffer.from(secret)
  const mac = (body: string) => createHmac('sha256', key).update(body).digest().subarray(0, MAC_BYTES)
  return {
    sign(claims) {
      const body = Buffer.from(claimsJson(claims)).toString('base64url')
      return `${body}.${mac(body).toString('base64url')}`
    },
    verify(token) {
      const dot = token.indexOf('.')
      if (dot <= 0 || dot !== token.lastIndexOf('.')) return undefined
      const body = token.slice(0, dot)
      const given = Buffer.from(token.slice(dot + 1), 'base64url')
      const expected = mac(body)
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
      let claims: PayloadClaims
      try {
        claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
      } catch {
        return undefined
      }
      const ok =
        typeof claims === 'object' &&
        claims !== null &&
        Number.isSafeInteger(claims.d) &&
        Number.isSafeInteger(claims.u) &&
        Number.isSafeInteger(claims.c) &&
        typeof claims.exp === 'number'
      return ok ? claims : undefined
    },
  }
}

/** JSON.stringify(claims), written out: signing runs for every item of every allocation. */
function claimsJson({ d, u, c, t, exp }: PayloadClaims): string {
  const token = t === undefined ? '' : `,"t":${JSON.stringify(t)}`
  return `{"d":${d},"u":${u},"c":${c}${token},"exp":${exp}}`
}

/** A payload as an event reads it: Allot's own, or one the legacy server minted before the cut-over. */
export type PayloadRead =
  | { kind: 'allot'; claims: PayloadClaims; expired: boolean }
  | { kind: 'legacy'; unitId: number | undefined; expired: boolean }

export type PayloadReader = { read(token: string, now: number): PayloadRead | undefined }

/** The cut-over window for payloads of the legacy server (SDK-CONTRACT §7.1): its key and last day. */
export type LegacyPayloads = { key: string; until: number }

/**
 * Reads event payloads: Allot's signed tokens, and while `legacy` is configured and not past its `until`,
 * the legacy server's AES-128-CBC tokens (IV = key, PKCS#7, URL-safe base64), which bind no device or
 * campaign: for those only the v1 check and the request's own fields vouch.
 */
export function createPayloadReader(
  signer: PayloadSigner,
  legacy: LegacyPayloads | undefined,
): PayloadReader {
  const legacyKey = legacy && Buffer.from(legacy.key)
  return {
    read(token, now) {
      const claims = signer.verify(token)
      if (claims) return { kind: 'allot', claims, expired: claims.exp * 1000 <= now }
      if (!legacy || !legacyKey || now > legacy.until) return undefined
      const old = decryptLegacy(legacyKey, token)
      if (!old) return undefined
      return { kind: 'legacy', unitId: old.unitId, expired: old.endedAt * 1000 + PAYLOAD_GRACE_MS < now }
    },
  }
}

/** The legacy payload's fields we use; undefined when it does not decrypt to the v1 JSON. */
function decryptLegacy(
  key: Buffer,
  token: string,
): { endedAt: number; unitId: number | undefined } | undefined {
  if (token === '' || token === '__campaign_payload__' || !/^[\w-]+={0,2}$/.test(token)) return undefined
  try {
    const decipher = createDecipheriv(`aes-${key.length * 8}-cbc`, key, key.subarray(0, 16))
    const plain = Buffer.concat([decipher.update(Buffer.from(token, 'base64url')), decipher.final()])
    const json = JSON.parse(plain.toString('utf8')) as { ended_at?: unknown; unit_id?: unknown }
    if (typeof json !== 'object' || json === null || typeof json.ended_at !== 'number') return undefined
    const unitId =
      typeof json.unit_id === 'number' && Number.isSafeInteger(json.unit_id) ? json.unit_id : undefined
    return { endedAt: json.ended_at, unitId }
  } catch {
    return undefined
  }
}
