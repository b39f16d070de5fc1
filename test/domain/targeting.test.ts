import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Campaign } from '../../src/domain/catalog.js'
import { campaignDraft } from '../../src/domain/drafts.js'
import { compileTargeting, type DeviceContext } from '../../src/domain/targeting.js'

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
      assert.equal(compileTargeting(campaign(fields))(d), served)
    })
  }
})
