import assert from 'node:assert/strict'
import { createCipheriv } from 'node:crypto'
import { test } from 'node:test'
import {
  createPayloadReader,
  createPayloadSigner,
  type PayloadClaims,
} from '../../src/domain/payload-signer.js'

const signer = createPayloadSigner('k'.repeat(32))
const claims: PayloadClaims = { d: 9_007_199_254_740_991, u: 1001, c: 7 }
const NOW = Date.UTC(2026, 10, 25)
const LEGACY_KEY = '0123456789abcdef'

/** A payload as the legacy server minted it: AES-128-CBC, IV = key, PKCS#7, URL-safe base64 with padding. */
function legacyPayload(json: object, key = LEGACY_KEY): string {
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(key), Buffer.from(key))
  const bytes = Buffer.concat([cipher.update(JSON.stringify(json)), cipher.final()])
  return bytes.toString('base64').replaceAll('+', '-').replaceAll('/', '_')
}

test('tokens are 22 URL-safe characters that verify to their claims, many minted in one call', () => {
  const many = Array.from({ length: 30 }, (_, i) => ({ d: 1 + i, u: 1001, c: 100 + i }))
  const tokens = signer.signAll([claims, ...many])
  assert.equal(tokens.length, 31)
  for (const t of tokens) assert.match(t, /^[\w-]{22}$/)
  assert.deepEqual(signer.verify(tokens[0] as string), claims, 'the largest device id survives')
  for (const [i, c] of many.entries()) assert.deepEqual(signer.verify(tokens[i + 1] as string), c)
  assert.equal(new Set(tokens).size, 31, 'every (device, unit, campaign) has its own token')
  assert.deepEqual(signer.signAll([claims]), [tokens[0]], 'the same claims give the same token')
})

test('a tampered, re-keyed or malformed token never verifies to other claims', () => {
  const [token] = signer.signAll([claims]) as [string]
  assert.equal(createPayloadSigner('o'.repeat(32)).verify(token), undefined, 'another secret')
  // Every one-character change decrypts to a different, almost always malformed block.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  let accepted = 0
  for (let at = 0; at < token.length; at++)
    for (const ch of alphabet) {
      if (ch === token[at]) continue
      const forged = `${token.slice(0, at)}${ch}${token.slice(at + 1)}`
      const read = signer.verify(forged)
      if (read) {
        accepted++
        assert.notDeepEqual(read, claims, 'never the original claims')
      }
    }
  assert.ok(
    accepted <= 2,
    `${accepted} of ${22 * 63} one-character forgeries decrypted to a well-formed block`,
  )
  for (const junk of [
    '',
    'abc',
    `${token}x`,
    token.slice(1),
    '__campaign_payload__',
    `${token.slice(0, 21)}=`,
  ])
    assert.equal(signer.verify(junk), undefined, junk)
})

test("the reader reads Allot tokens (their expiry is the campaign's end, checked by the events)", () => {
  const reader = createPayloadReader(signer, undefined)
  const [token] = signer.signAll([claims]) as [string]
  assert.deepEqual(reader.read(token, NOW), { kind: 'allot', claims })
  assert.equal(reader.read('garbage', NOW), undefined)
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
    (
      createPayloadReader(signer, { key: LEGACY_KEY, until: late + 1 }).read(token, late) as {
        expired: boolean
      }
    ).expired,
    true,
  )
  // A payload under another key, or not the v1 JSON, is not a payload.
  assert.equal(reader.read(legacyPayload({ ended_at: endedAt }, 'fedcba9876543210'), NOW), undefined)
  assert.equal(reader.read(legacyPayload({ cou: 'KR' }), NOW), undefined)
  assert.equal(reader.read('__campaign_payload__', NOW), undefined)
})

test('one signer serves interleaved calls: garbage between them changes no later answer', () => {
  const fresh = createPayloadSigner('k'.repeat(32))
  const batch = Array.from({ length: 5 }, (_, i) => ({ d: 10 + i, u: 1001, c: 200 + i }))
  const tokens = signer.signAll(batch)
  // Well-formed tokens of random bytes: they decrypt (to garbage, refused) through the same decipher.
  for (let i = 0; i < 50; i++) signer.verify(Buffer.alloc(16, i * 5).toString('base64url'))
  for (const [i, t] of tokens.entries()) assert.deepEqual(signer.verify(t), batch[i])
  assert.deepEqual(signer.signAll(batch), fresh.signAll(batch), 'as minted by a signer never used before')
  assert.deepEqual(signer.verify(fresh.signAll([claims])[0] as string), claims)
})
