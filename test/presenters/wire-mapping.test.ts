import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deflateSync } from 'node:zlib'
import { AllotError } from '../../src/domain/errors.js'
import type { ClickQueryDto, StayRewardRequestDto, UnlockRequestDto } from '../../src/http/dto/event.dto.js'
import { campaignFromDto, campaignToDto, pageOf } from '../../src/http/presenters/admin.presenter.js'
import { allocationRequestFromDto } from '../../src/http/presenters/allocation.presenter.js'
import { channelIdsFromQuery } from '../../src/http/presenters/content.presenter.js'
import {
  landingRequestFromDto,
  stayRewardRequestFromDto,
  unlockRequestFromDto,
} from '../../src/http/presenters/event.presenter.js'
import { explainRequestFromDto } from '../../src/http/presenters/insight.presenter.js'
import { appIdOf, packagesFromUpload } from '../../src/http/presenters/installed-apps.presenter.js'

const invalidField = (text: RegExp) => (err: unknown) =>
  err instanceof AllotError && err.code === 'InvalidField' && text.test(err.message)

const device = { device_id: '42', ifa: 'ifa-42', unit_device_token: 'user-42' }

test('an allocation form becomes the service request: ids exact, 0 ids not sent, two-digit years expanded', () => {
  const request = allocationRequestFromDto({
    ...device,
    unit_id: '1001',
    app_id: '0',
    sdk_version: '3000',
    timezone: 'Asia/Seoul',
    year_of_birth: '95',
    device_os: '30',
    registered_date: '',
  })
  assert.equal(request.unit_id, 1001)
  assert.equal(request.app_id, undefined)
  assert.equal(request.device_id, 42)
  assert.equal(request.sdk_version, 3000)
  assert.equal(request.year_of_birth, 1995)
  assert.equal(request.device_os, 30)
  assert.equal(request.registered_date, undefined)
  assert.throws(
    () => allocationRequestFromDto({ ...device, device_id: '9007199254740992' }),
    invalidField(/^device_id must be an integer/),
  )
})

test('an explain body given JSON numbers reads as the text the SDK would have sent', () => {
  const { request, campaignId } = explainRequestFromDto({
    ...device,
    device_id: 42,
    unit_id: 1001,
    campaign_id: 7,
  })
  assert.equal(request.device_id, '42')
  assert.equal(request.unit_id, '1001')
  assert.equal(campaignId, '7')
  assert.equal(allocationRequestFromDto(request).device_id, 42)
})

const unlock: UnlockRequestDto = { ...device, click_type: 'u', click_campaign_payload: 'p' }

test('an unlock needs click_type u; no campaign id means v1 placeholder campaign 1', () => {
  const request = unlockRequestFromDto({ ...unlock, click_campaign_is_media: '007', reward: '10' })
  assert.equal(request.campaign_id, 1)
  assert.equal(request.campaign_is_media, '7')
  assert.equal(request.reward, 10)
  assert.equal(request.base_reward, 0)
  assert.equal(request.payload, 'p')
  assert.throws(() => unlockRequestFromDto({ ...unlock, click_type: 'l' }), invalidField(/click_type/))
  assert.throws(
    () => unlockRequestFromDto({ ...unlock, click_campaign_id: '9999999999999999' }),
    invalidField(/campaign_id must be an integer below 2\^53/),
  )
})

test("a landing keeps the client's own token unless it is the unfilled placeholder; use_clean_mode is on above 0", () => {
  const click: ClickQueryDto = { ...device, unit_id: '1001', campaign_name: 'c', campaign_id: '5' }
  const own = landingRequestFromDto({ ...click, client_unit_device_token: 'own', use_clean_mode: '1' })
  assert.equal(own.unit_device_token, 'own')
  assert.equal(own.allocation_unit_device_token, 'user-42')
  assert.equal(own.use_clean_mode, true)
  const placeholder = landingRequestFromDto({ ...click, client_unit_device_token: '__unit_device_token__' })
  assert.equal(placeholder.unit_device_token, 'user-42')
  for (const off of ['0', '-1', '+1', 'yes', '1.5', '', undefined])
    assert.equal(landingRequestFromDto({ ...click, use_clean_mode: off }).use_clean_mode, false, String(off))
})

test('a stay reward without unit_id is for the app id (v1 lockscreen fallback)', () => {
  const dto: StayRewardRequestDto = {
    ...device,
    app_id: '100',
    type: 'imp',
    campaign_id: '5',
    campaign_name: 'c',
  }
  assert.equal(stayRewardRequestFromDto(dto).unit_id, 100)
  assert.equal(stayRewardRequestFromDto({ ...dto, unit_id: '1001' }).unit_id, 1001)
})

test('channel ids: v1 integers (a + included), empty items skipped, anything else a 400 naming the item', () => {
  assert.deepEqual(channelIdsFromQuery('1, 2,,+3,'), [1, 2, 3])
  assert.throws(() => channelIdsFromQuery('1,0x10'), invalidField(/'0x10' is not an integer id/))
  assert.throws(() => channelIdsFromQuery('1,99999999999999999'), invalidField(/is not an integer id/))
  assert.throws(() => channelIdsFromQuery(' , '), invalidField(/names no channel id/))
})

test('installed apps: the app id is app_id when positive, else unit_id; the upload is base64 of zlib', () => {
  assert.equal(appIdOf({ app_id: 7, unit_id: 9 }), 7)
  assert.equal(appIdOf({ app_id: 0, unit_id: 9 }), 9)
  assert.throws(() => appIdOf({}), invalidField(/app_id/))
  const upload = deflateSync('com.a,com.b\ncom.a').toString('base64')
  const wrapped = `${upload.slice(0, 8)}\r\n${upload.slice(8)}`
  assert.deepEqual(packagesFromUpload(wrapped), ['com.a', 'com.b'])
  assert.throws(() => packagesFromUpload('not base64!'), invalidField(/base64/))
  assert.throws(() => packagesFromUpload(Buffer.from('plain').toString('base64')), invalidField(/zlib/))
})

test('admin campaigns: ISO times in become epoch ms, epoch ms out become ISO UTC; pages are numbers', () => {
  const input = campaignFromDto({ name: 'c', start_date: '2026-11-25T12:00:00+09:00', published_at: null })
  assert.equal(input.start_date, Date.UTC(2026, 10, 25, 3))
  assert.equal(input.published_at, null)
  const out = campaignToDto({
    start_date: 0,
    end_date: 1,
    published_at: null,
    created_at: 0,
    updated_at: 0,
  } as never)
  assert.equal(out.start_date, '1970-01-01T00:00:00.000Z')
  assert.equal(out.published_at, null)
  assert.deepEqual(pageOf({ limit: '1000', offset: '0' }), { limit: 1000, offset: 0 })
})
