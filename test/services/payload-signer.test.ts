import assert from 'node:assert/strict'
import { createCipheriv } from 'node:crypto'
import { test } from 'node:test'
import {
  createPayloadReader,
  createPayloadSigner,
  type PayloadClaims,
} from '../../src/services/payload-signer.js'

const signer = createPayloadSigner('k'.repeat(32))
const claims: PayloadClaims = { d: 42, u: 1001, c: 7, t: 'user "q"', exp: 2_000_000_000 }
const NOW = Date.UTC(2026, 10, 25)
const LEGACY_KEY = '0123456789abcdef'

/** A payload as the legacy server minted it: AES-128-CBC, IV = key, PKCS#7, URL-safe base64 with padding. */
function legacyPayload(json: object, key = LEGACY_KEY): string {
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(key), Buffer.from(key))
  const bytes = Buffer.concat([cipher.update(JSON.stringify(json)), cipher.final()])
  return bytes.toString('base64').replaceAll('+', '-').replaceAll('/', '_')
}

test('a signed payload verifies to its claims, is URL-safe and its body is the plain JSON of them', () => {
  const token = signer.sign(claims)
  assert.match(token, /^[\w-]+\.[\w-]+$/)
  assert.deepEqual(signer.verify(token), claims)
  const body = JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString())
  assert.deepEqual(body, claims)
  const { t: _t, ...anonymous } = claims
  assert.deepEqual(signer.verify(signer.sign(anonymous)), anonymous)
})

test('a tampered, re-keyed or malformed payload does not verify', () => {
  const token = signer.sign(claims)
  const [body, mac] = token.split('.') as [string, string]
  const forged = Buffer.from(JSON.stringify({ ...claims, d: 43 })).toString('base64url')
  assert.equal(signer.verify(`${forged}.${mac}`), undefined)
  assert.equal(createPayloadSigner('o'.repeat(32)).verify(token), undefined)
  for (const junk of ['', '.', 'abc', `${body}.`, `${body}.${mac}.x`, `.${mac}`, '__campaign_payload__']) {
    assert.equal(signer.verify(junk), undefined, junk)
  }
})

test('the reader tells an expired Allot payload from a live one', () => {
  const reader = createPayloadReader(signer, undefined)
  const token = signer.sign(claims)
  assert.deepEqual(reader.read(token, NOW), { kind: 'allot', claims, expired: false })
  assert.equal(reader.read(token, claims.exp * 1000 + 1)?.expired, true)
})

test('legacy payloads are read during the cut-over only, and expire 7 days after their campaign', () => {
  const until = NOW + 86_400_000
  const reader = createPayloadReader(signer, { key: LEGACY_KEY, until })
  const endedAt = Math.floor(NOW / 1000) + 3600
  const token = legacyPayload({
    cou: 'KR',
    ended_at: endedAt,
    oid: 3,
    t: endedAt - 7200,
    tz: 'Asia/Seoul',
    unit_id: 9,
  })
  assert.deepEqual(reader.read(token, NOW), { kind: 'legacy', unitId: 9, expired: false })
  assert.equal(reader.read(token, until + 1), undefined, 'after LEGACY_PAYLOAD_UNTIL')
  assert.equal(
    createPayloadReader(signer, undefined).read(token, NOW),
    undefined,
    'without LEGACY_PAYLOAD_KEY',
  )
  const late = (endedAt + 7 * 86_400 + 1) * 1000
  assert.equal(
    createPayloadReader(signer, { key: LEGACY_KEY, until: late + 1 }).read(token, late)?.expired,
    true,
  )
  // A payload under another key, or not the v1 JSON, is not a payload.
  assert.equal(reader.read(legacyPayload({ ended_at: endedAt }, 'fedcba9876543210'), NOW), undefined)
  assert.equal(reader.read(legacyPayload({ cou: 'KR' }), NOW), undefined)
  assert.equal(reader.read('__campaign_payload__', NOW), undefined)
})
