import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createPayloadSigner, type PayloadClaims } from '../../src/services/payload-signer.js'

const signer = createPayloadSigner('k'.repeat(32))
const claims: PayloadClaims = {
  d: 42,
  u: 1001,
  c: 7,
  t: 'user "q"',
  r: { u: 1, l: 3, a: 0, b: 2 },
  exp: 2_000_000_000,
}

test('a signed payload verifies to its claims and its body is the plain JSON of them', () => {
  const token = signer.sign(claims)
  assert.deepEqual(signer.verify(token, Date.now()), claims)
  const body = JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString())
  assert.deepEqual(body, claims)
  const { t: _t, ...anonymous } = claims
  assert.deepEqual(signer.verify(signer.sign(anonymous), Date.now()), anonymous)
})

test('a tampered, re-keyed, expired or malformed payload does not verify', () => {
  const token = signer.sign(claims)
  const [body, mac] = token.split('.') as [string, string]
  const forged = Buffer.from(JSON.stringify({ ...claims, r: { ...claims.r, u: 100 } })).toString('base64url')
  assert.equal(signer.verify(`${forged}.${mac}`, Date.now()), undefined)
  assert.equal(createPayloadSigner('o'.repeat(32)).verify(token, Date.now()), undefined)
  assert.equal(signer.verify(token, 2_000_000_000_000), undefined)
  for (const junk of ['', '.', 'abc', `${body}.`, `${body}.${mac}.x`, `.${mac}`]) {
    assert.equal(signer.verify(junk, Date.now()), undefined, junk)
  }
})
