import { createHmac, timingSafeEqual } from 'node:crypto'

/** What an item's payload binds: who was shown what, with which rewards, until when. */
export type PayloadClaims = {
  /** device_id */
  d: number
  /** unit_id */
  u: number
  /** campaign_id */
  c: number
  /** unit_device_token (publisher's user id), when the SDK sent it */
  t?: string
  /** rewards: unlock, landing, action, base */
  r: { u: number; l: number; a: number; b: number }
  /** expiry, epoch seconds */
  exp: number
}

export type PayloadSigner = {
  sign(claims: PayloadClaims): string
  /** The claims if the token is authentic and unexpired at `now` (epoch ms), else undefined. */
  verify(token: string, now: number): PayloadClaims | undefined
}

/** Signs payloads as `base64url(JSON claims).base64url(HMAC-SHA256)` with the configured secret. */
export function createPayloadSigner(secret: string): PayloadSigner {
  // A Buffer key is measurably cheaper per createHmac call than a KeyObject on Node 20 (2.8 vs 3.3 µs).
  const key = Buffer.from(secret)
  const mac = (body: string) => createHmac('sha256', key).update(body).digest()
  return {
    sign(claims) {
      const body = Buffer.from(claimsJson(claims)).toString('base64url')
      return `${body}.${mac(body).toString('base64url')}`
    },
    verify(token, now) {
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
      if (typeof claims?.exp !== 'number' || claims.exp * 1000 <= now) return undefined
      return claims
    },
  }
}

/** JSON.stringify(claims), written out: signing runs for every item of every allocation. */
function claimsJson({ d, u, c, t, r, exp }: PayloadClaims): string {
  const token = t === undefined ? '' : `,"t":${JSON.stringify(t)}`
  return `{"d":${d},"u":${u},"c":${c}${token},"r":{"u":${r.u},"l":${r.l},"a":${r.a},"b":${r.b}},"exp":${exp}}`
}
