import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { AllotError } from '../../src/domain/errors.js'
import { decimalOf, integerOf, intOf, optionalIdOf, requiredIdOf } from '../../src/http/numbers.js'

/** Text made of what number syntaxes are made of, so that near misses are common. */
const numberish = fc.string({
  unit: fc.constantFrom('0', '1', '5', '9', '-', '+', '.', 'e', 'x', ' ', '٣'),
  maxLength: 20,
})

/** What each path accepted before numbers.ts, written as it was: the conversions must be the same. */
const before = {
  formInteger: (t: string) => (/^-?[0-9]{1,16}$/.test(t) ? Number(t) : undefined),
  formNumber: (t: string) => (/^-?[0-9]{1,16}(\.[0-9]{1,16})?$/.test(t) ? Number(t) : undefined),
  channelId: (t: string) => (/^[+-]?[0-9]{1,16}$/.test(t) ? Number(t) : undefined),
  cleanMode: (t: string) => (/^-?\d+$/.test(t) ? Number(t) : undefined),
}

test('integerOf reads a plain decimal integer and nothing else', () => {
  assert.equal(integerOf('42'), 42)
  assert.equal(integerOf('-7'), -7)
  assert.equal(integerOf('007'), 7)
  for (const text of ['', '-', '+5', '1e3', '0x10', ' 5', '5 ', '5.0', '1_000', '١٢', 'Infinity', 'NaN'])
    assert.equal(integerOf(text), undefined, JSON.stringify(text))
  assert.equal(integerOf('+5', { plus: true }), 5)
  assert.equal(integerOf('+-5', { plus: true }), undefined)
  assert.equal(integerOf('1234567890123456', { maxDigits: 16 }), 1234567890123456)
  assert.equal(integerOf('-1234567890123456', { maxDigits: 16 }), -1234567890123456)
  assert.equal(integerOf('00000000000000001', { maxDigits: 16 }), undefined)
})

test('integerOf and decimalOf accept exactly what each hand-written path accepted before, with the same value', () => {
  fc.assert(
    fc.property(numberish, (t) => {
      assert.deepEqual(integerOf(t, { maxDigits: 16 }), before.formInteger(t))
      assert.deepEqual(decimalOf(t), before.formNumber(t))
      assert.deepEqual(integerOf(t, { plus: true, maxDigits: 16 }), before.channelId(t))
      assert.deepEqual(integerOf(t), before.cleanMode(t))
    }),
    { numRuns: 20_000 },
  )
})

test('decimalOf takes a fraction of up to 16 digits after a whole part of up to 16', () => {
  assert.equal(decimalOf('-1.25'), -1.25)
  assert.equal(decimalOf('3'), 3)
  for (const text of ['1.', '.5', '1.2.3', '1e-3', '-', '1.00000000000000001'])
    assert.equal(decimalOf(text), undefined, text)
})

test('an id is exact or a 400 naming its field: never a silently rounded device', () => {
  assert.equal(requiredIdOf('device_id', '9007199254740991'), Number.MAX_SAFE_INTEGER)
  for (const text of ['9007199254740992', '0', '-5', '1e3', ''])
    assert.throws(
      () => requiredIdOf('device_id', text),
      (err: unknown) =>
        err instanceof AllotError &&
        err.code === 'InvalidField' &&
        err.message === `device_id must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}`,
      text,
    )
  for (const notSent of [undefined, '', '0']) assert.equal(optionalIdOf('unit_id', notSent), undefined)
  assert.equal(optionalIdOf('unit_id', '1001'), 1001)
})

test('an int field is undefined when not sent, its value otherwise', () => {
  assert.equal(intOf(undefined), undefined)
  assert.equal(intOf(''), undefined)
  assert.equal(intOf('-30'), -30)
  assert.equal(intOf('0003000'), 3000)
})
