import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { Campaign } from '../../src/domain/catalog.js'
import { campaignDraft } from '../../src/domain/drafts.js'
import {
  compileTargeting,
  type DeviceContext,
  TARGETING_FIELDS,
  targetingCache,
} from '../../src/domain/targeting.js'

function campaign(fields: Partial<Campaign>): Campaign {
  const draft = campaignDraft({ name: 'c', type: 'I', start_date: 0, end_date: 1 })
  return { ...draft, id: 1, created_at: 0, updated_at: 0, ...fields }
}

const device: DeviceContext = {
  unitId: 1001,
  appId: 100,
  age: 30,
  gender: 'F',
  language: 'ko',
  carrier: 'skt',
  region: '서울특별시 관악구',
  country: 'KR',
  os: 30,
  sdk: 2100,
  customTargets: [new Set(['gold', 'vip']), undefined, undefined],
  installedPackages: new Set(['com.kakao.talk', 'com.example.game']),
}
const bare: DeviceContext = { unitId: 1001, appId: 100, customTargets: [undefined, undefined, undefined] }

type Row = [string, Partial<Campaign>, DeviceContext, boolean]

// [what, campaign fields, device, served?]
const rows: Row[] = [
  ['no targeting serves everyone', {}, bare, true],
  ['__GLOB__ serves everyone', { target_country: ['__GLOB__'] }, bare, true],
  ['country match', { target_country: ['kr', 'JP'] }, device, true],
  ['country mismatch', { target_country: ['US'] }, device, false],
  ['country targeted but not sent', { target_country: ['KR'] }, bare, false],
  ['detarget_country excludes', { detarget_country: ['KR'] }, device, false],
  ['detarget_country on a device without country excludes nothing', { detarget_country: ['KR'] }, bare, true],
  ['gender match', { target_gender: ['F'] }, device, true],
  ['gender mismatch', { target_gender: ['M'] }, device, false],
  ['detarget_gender excludes', { detarget_gender: ['F'] }, device, false],
  ['language by primary subtag', { target_language: ['ko_KR'] }, device, true],
  ['language mismatch', { target_language: ['en'] }, device, false],
  ['detarget_language excludes', { detarget_language: ['KO'] }, device, false],
  ['age inside inclusive bounds', { target_age_min: 30, target_age_max: 30 }, device, true],
  ['age below min', { target_age_min: 31 }, device, false],
  ['age above max', { target_age_max: 29 }, device, false],
  ['age targeted but no year_of_birth', { target_age_min: 20 }, bare, false],
  ['detarget_age range excludes', { detarget_age_min: 25, detarget_age_max: 35 }, device, false],
  ['detarget_age range elsewhere', { detarget_age_min: 40 }, device, true],
  ['os inside', { target_os_min: 26, target_os_max: 33 }, device, true],
  ['os too old', { target_os_min: 31 }, device, false],
  ['os too new', { target_os_max: 29 }, device, false],
  ['detarget_os excludes', { detarget_os_min: 30, detarget_os_max: 30 }, device, false],
  ['sdk inside', { target_sdk_min: 2000 }, device, true],
  ['sdk outside', { target_sdk_max: 2000 }, device, false],
  ['detarget_sdk excludes', { detarget_sdk_min: 2100 }, device, false],
  ['unit match', { target_unit: ['1001'] }, device, true],
  ['unit mismatch', { target_unit: ['1002'] }, device, false],
  ['detarget_unit excludes', { detarget_unit: ['1001'] }, device, false],
  ['app id match', { target_app_id: ['100'] }, device, true],
  ['app id mismatch', { target_app_id: ['7'] }, device, false],
  ['detarget_app_id excludes', { detarget_app_id: ['100'] }, device, false],
  ['province matches its districts', { target_region: ['서울특별시'] }, device, true],
  ['exact district', { target_region: ['서울특별시 관악구'] }, device, true],
  ['other district', { target_region: ['서울특별시 강남구'] }, device, false],
  ['detarget province excludes its districts', { detarget_region: ['서울특별시'] }, device, false],
  ['carrier match ignores case and punctuation', { target_carrier: ['S.K.T'] }, device, true],
  ['carrier mismatch', { target_carrier: ['kt'] }, device, false],
  ['carrier aliases: SK Telecom is SKT', { target_carrier: ['SK Telecom'] }, device, true],
  ['carrier aliases: MCC-MNC 45005 is SKT', { target_carrier: ['45005'] }, device, true],
  ['carrier aliases: Korean name is SKT', { target_carrier: ['에스케이텔레콤'] }, device, true],
  ['carrier aliases: LG U+ is not SKT', { target_carrier: ['LG U+', 'olleh'] }, device, false],
  ['detarget_carrier by alias excludes', { detarget_carrier: ['SKTelecom'] }, device, false],
  [
    'registered days inside bounds',
    { registered_days_min: 3, registered_days_max: 10 },
    { ...device, registeredDays: 5 },
    true,
  ],
  ['registered days too new', { registered_days_min: 7 }, { ...device, registeredDays: 5 }, false],
  ['registered days too old', { registered_days_max: 4 }, { ...device, registeredDays: 5 }, false],
  [
    'custom target 3 AND custom target 1',
    { custom_target_1: ['gold'], custom_target_3: ['a'] },
    { ...device, customTargets: [new Set(['gold']), undefined, new Set(['a', 'b'])] },
    true,
  ],
  ['installed app targeted but packages not sent', { target_app: ['com.kakao.talk'] }, bare, false],
  ['GLOB in an exclusion excludes nothing', { detarget_country: ['__GLOB__'] }, device, true],
  ['custom target OR within a field', { custom_target_1: ['silver', 'vip'] }, device, true],
  ['custom target no overlap', { custom_target_1: ['silver'] }, device, false],
  ['custom targets AND across fields', { custom_target_1: ['vip'], custom_target_2: ['x'] }, device, false],
  ['detarget custom target excludes', { detarget_custom_target_1: ['gold'] }, device, false],
  ['installed app required', { target_app: ['com.kakao.talk'] }, device, true],
  ['installed app missing', { target_app: ['com.naver'] }, device, false],
  ['-package must not be installed', { target_app: ['-com.example.game'] }, device, false],
  ['-package absent is fine', { target_app: ['-com.naver'] }, device, true],
  ['detarget_app excludes installers', { detarget_app: ['com.example.game'] }, device, false],
  ['registered days targeted without a profile', { registered_days_min: 1 }, bare, false],
]

describe('targeting: every field and its exclusion twin', () => {
  for (const [what, fields, d, served] of rows) {
    test(`${what} → ${served ? 'served' : 'not served'}`, () => {
      const targeting = compileTargeting(campaign(fields))
      assert.equal(targeting.matches(d), served)
      // The explainer's answer agrees with the predicate, and names a field the campaign restricts.
      const miss = targeting.firstMissField(d)
      assert.equal(miss === undefined, served)
      if (miss) assert.ok(targeting.fields.includes(miss), `${miss} is one of ${targeting.fields}`)
    })
  }
})

describe('targeting: the first field a device misses', () => {
  test('is reported in matching order, with the device value and the campaign rule', () => {
    const targeting = compileTargeting(
      campaign({
        target_gender: ['m'],
        target_age_min: 40,
        detarget_age_min: 60,
        target_region: ['부산광역시'],
      }),
    )
    assert.deepEqual(targeting.fields, ['target_gender', 'target_age', 'target_region'])
    assert.deepEqual(targeting.firstMiss(device), {
      field: 'target_gender',
      deviceValue: 'F',
      target: ['M'],
      detarget: undefined,
    })
    assert.deepEqual(targeting.firstMiss({ ...device, gender: 'M' }), {
      field: 'target_age',
      deviceValue: 30,
      target: { min: 40, max: null },
      detarget: { min: 60, max: null },
    })
    assert.deepEqual(targeting.firstMiss({ ...device, gender: 'M', age: 45 })?.field, 'target_region')
    assert.equal(
      targeting.firstMiss({ ...device, gender: 'M', age: 45, region: '부산광역시 해운대구' }),
      undefined,
    )
  })

  test('a campaign without targeting restricts no field', () => {
    const targeting = compileTargeting(campaign({ target_country: ['__GLOB__'] }))
    assert.deepEqual(targeting.fields, [])
    assert.equal(targeting.firstMiss(bare), undefined)
  })

  test('the predicate and the first missed field agree on random campaigns and devices (every field is checked)', () => {
    const some = <T>(values: T[]) => fc.option(fc.subarray(values, { minLength: 1 }), { nil: undefined })
    const bound = fc.option(fc.integer({ min: 0, max: 60 }), { nil: null })
    const lists = {
      target_gender: some(['M', 'F']),
      detarget_gender: some(['M']),
      target_country: some(['KR', 'JP']),
      target_language: some(['ko', 'en']),
      target_carrier: some(['skt', 'kt']),
      target_region: some(['서울특별시', '부산광역시 해운대구']),
      target_unit: some(['1001', '1002']),
      target_app_id: some(['100', '200']),
      custom_target_1: some(['gold', 'vip']),
      custom_target_2: some(['a']),
      custom_target_3: some(['b']),
      target_app: some(['com.a', '-com.b']),
      detarget_app: some(['com.c']),
    }
    const ranges = {
      target_age_min: bound,
      target_age_max: bound,
      detarget_age_min: bound,
      target_os_min: bound,
      target_sdk_max: bound,
      registered_days_min: bound,
    }
    const text = (values: string[]) => fc.option(fc.constantFrom(...values), { nil: undefined })
    const set = (values: string[]) =>
      fc.option(
        fc.subarray(values, { minLength: 1 }).map((v) => new Set(v)),
        { nil: undefined },
      )
    const num = fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined })
    const devices = fc.record({
      unitId: fc.constantFrom(1001, 1002),
      appId: fc.constantFrom(100, 200),
      gender: text(['M', 'F']),
      country: text(['KR', 'JP']),
      language: text(['ko', 'en']),
      carrier: text(['skt', 'kt']),
      region: text(['서울특별시 관악구', '부산광역시 해운대구', '부산광역시 중구']),
      age: num,
      os: num,
      sdk: num,
      registeredDays: num,
      installedPackages: set(['com.a', 'com.b', 'com.c']),
      customTargets: fc.tuple(set(['gold', 'vip']), set(['a']), set(['b'])),
    })
    fc.assert(
      fc.property(fc.record({ ...lists, ...ranges }), devices, (fields, d) => {
        const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined))
        const targeting = compileTargeting(campaign(defined as Partial<Campaign>))
        const miss = targeting.firstMissField(d as DeviceContext)
        assert.equal(targeting.matches(d as DeviceContext), miss === undefined)
      }),
      { numRuns: 5_000, seed: 13 },
    )
    assert.equal(TARGETING_FIELDS.length, 16)
    // A catalog build shares compiled targeting between campaigns: each campaign's shared predicate answers
    // as its own would, on every device, whatever the campaigns compiled before it.
    const cache = targetingCache()
    const catalog = fc.array(fc.record({ ...lists, ...ranges }), { minLength: 1, maxLength: 40 })
    fc.assert(
      fc.property(catalog, fc.array(devices, { minLength: 1, maxLength: 10 }), (campaigns, ds) => {
        for (const fields of campaigns) {
          const c = campaign(
            Object.fromEntries(
              Object.entries(fields).filter(([, v]) => v !== undefined),
            ) as Partial<Campaign>,
          )
          const shared = compileTargeting(c, cache)
          const own = compileTargeting(c)
          assert.deepEqual(shared.fields, own.fields)
          for (const d of ds as DeviceContext[]) {
            assert.equal(shared.matches(d), own.matches(d))
            assert.deepEqual(shared.firstMiss(d), own.firstMiss(d))
          }
        }
      }),
      { numRuns: 500, seed: 17 },
    )
  })

  test('campaigns of one build with the same targeting share one predicate, and one rule per field value', () => {
    const cache = targetingCache()
    const a = compileTargeting(campaign({ target_unit: ['1001'], target_gender: ['F'] }), cache)
    const b = compileTargeting(campaign({ id: 2, target_unit: ['1001'], target_gender: ['F'] }), cache)
    const c = compileTargeting(campaign({ target_unit: ['1001'], target_gender: ['M'] }), cache)
    assert.equal(a, b, 'the same targeting: one predicate')
    assert.notEqual(a, c)
    assert.equal(c.matches(device), false)
    assert.equal(a.matches(device), true)
    assert.equal(cache.predicates.size, 2)
    assert.equal(cache.rules.size, 3, 'target_unit 1001 compiled once, each gender once')
    assert.equal(cache.checked.size, 1, 'both restrict unit and gender: one list of checked fields')
    assert.equal(
      compileTargeting(campaign({}), cache),
      compileTargeting(campaign({ id: 3 })),
      'no targeting: one',
    )
  })
})
