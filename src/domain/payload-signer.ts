import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto'
import { PAYLOAD_GRACE_MS } from './sdk-v1.js'

/** What an item's payload binds: which device was shown which campaign on which unit. */
export type PayloadClaims = {
  /** device_id (at most 2^53 − 1) */
  d: number
  /** unit_id (at most 2^31 − 1) */
  u: number
  /** campaign id as allocated (local id, or an upstream ad's wire id; below 2^32) */
  c: number
  /**
   * The item carried no base reward though the unit has one (ads for SDKs ≤ 1240 and in the US,
   * docs/architecture.md §W3.2): an event through it is paid no base part, whatever it claims. Absent = the
   * unit's base reward.
   */
  noBase?: true
}

export type PayloadSigner = {
  /** One opaque token per claim, minted together (one cipher call for a whole allocation). */
  signAll(claims: readonly PayloadClaims[]): string[]
  /** The claims if the token is one this secret minted, else undefined. */
  verify(token: string): PayloadClaims | undefined
}

const VERSION = 0x02
/** Set in the version byte when the item carried no base reward. */
const NO_BASE = 0x01
const BLOCK = 16

/**
 * Payload tokens: AES-128 (a keyed pseudorandom permutation; key derived from PAYLOAD_SECRET) of one
 * 16-byte block `version | device (7 bytes) | unit (4) | campaign (4)`, base64url (22 characters, URL-safe
 * so it survives the SDK's placeholder substitution). The version byte's lowest bit says the item carried
 * no base reward. Without the key no one can produce the token of another block; a token that does not
 * decrypt to a well-formed block (version bits, ids in range: 12 redundant bits) is refused, and the event endpoints also match the ids against the request's. An
 * allocation's tokens are one ECB call over all its blocks: one native call instead of a MAC per item.
 * Expiry is the campaign's own end + 7 days, as v1, checked where the campaign is known.
 *
 * One cipher and one decipher serve every call: ECB keeps no state from one block to the next, and without
 * padding each `update` of whole blocks returns them all (no block held back), so a call never sees
 * another's data. Creating them per call cost more than the AES itself.
 */
export function createPayloadSigner(secret: string): PayloadSigner {
  const key = createHmac('sha256', secret).update('allot payload tokens v2').digest().subarray(0, 16)
  const cipher = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false)
  const decipher = createDecipheriv('aes-128-ecb', key, null).setAutoPadding(false)
  return {
    signAll(claims) {
      const blocks = Buffer.allocUnsafe(claims.length * BLOCK)
      for (const [i, c] of claims.entries()) writeBlock(blocks, i * BLOCK, c)
      const sealed = cipher.update(blocks)
      const out = new Array<string>(claims.length)
      for (let i = 0; i < claims.length; i++)
        out[i] = sealed.toString('base64url', i * BLOCK, (i + 1) * BLOCK)
      return out
    },
    verify(token) {
      if (token.length !== 22 || !/^[\w-]{22}$/.test(token)) return undefined
      const sealed = Buffer.from(token, 'base64url')
      // Canonical only: the last character's 4 spare bits must be zero (no two spellings of one token).
      if (sealed.length !== BLOCK || sealed.toString('base64url') !== token) return undefined
      return readBlock(decipher.update(sealed))
    },
  }
}

function writeBlock(buffer: Buffer, at: number, { d, u, c, noBase }: PayloadClaims): void {
  buffer[at] = noBase ? VERSION | NO_BASE : VERSION
  // The device id in 7 bytes: its high 21 bits (of 53) in 3, its low 32 in 4.
  buffer.writeUIntBE(Math.floor(d / 2 ** 32), at + 1, 3)
  buffer.writeUInt32BE(d % 2 ** 32, at + 4)
  buffer.writeUInt32BE(u, at + 8)
  buffer.writeUInt32BE(c, at + 12)
}

function readBlock(block: Buffer): PayloadClaims | undefined {
  const version = block[0] ?? 0
  if (block.length !== BLOCK || (version & ~NO_BASE) !== VERSION) return undefined
  const d = block.readUIntBE(1, 3) * 2 ** 32 + block.readUInt32BE(4)
  const u = block.readUInt32BE(8)
  const c = block.readUInt32BE(12)
  if (!Number.isSafeInteger(d) || d < 1 || u < 1 || u > 0x7fffffff || c < 1) return undefined
  return version & NO_BASE ? { d, u, c, noBase: true } : { d, u, c }
}

/** A payload as an event reads it: Allot's own, or one the legacy server minted before the cut-over. */
export type PayloadRead =
  | { kind: 'allot'; claims: PayloadClaims }
  | { kind: 'legacy'; unitId: number | undefined; expired: boolean }

export type PayloadReader = {
  read(token: string, now: number): PayloadRead | undefined
  /** Whether links the legacy server handed out are still honoured (the cut-over window is open). */
  legacyOpen(now: number): boolean
}

/**
 * The cut-over window for payloads of the legacy server (docs/architecture.md §W7.1): its key and last day.
 */
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
    legacyOpen: (now) => legacy !== undefined && now <= legacy.until,
    read(token, now) {
      const claims = signer.verify(token)
      if (claims) return { kind: 'allot', claims }
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
