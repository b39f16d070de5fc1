import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Campaign } from '../../src/domain/catalog.js'
import { catalogSnapshot } from '../../src/domain/catalog-snapshot.js'
import { campaignDraft, unitDraft } from '../../src/domain/drafts.js'
import { createPayloadSigner } from '../../src/domain/payload-signer.js'
import { createAllocationPresenter } from '../../src/http/presenters/allocation.presenter.js'
import type { Allocation } from '../../src/services/allocation.service.js'
import { assertWire, V1Allocation } from '../helpers/v1-wire.js'

const NOW = Date.UTC(2026, 10, 25, 3, 30)

test('pre-rendered items are valid JSON whatever the campaign text holds, and splice each device in', () => {
  const tricky = 'quote " backslash \\ newline \n tab \t emoji 🎉 한글 </script> \u2028'
  const campaign: Campaign = {
    ...campaignDraft({
      name: tricky,
      type: 'I',
      start_date: NOW - 1000,
      end_date: NOW + 86_400_000,
      click_url: 'https://a.test/쿠폰?x="1"&ifa={ifa}',
      extra: { note: tricky, n: 1, nested: { list: [1, 'a'] } },
      target_app: ['com.a', 'com.b'],
      impression_urls: ['https://t.test/imp?a=1&b="2"'],
      owner_id: 9,
    }),
    id: 7,
    created_at: 0,
    updated_at: 0,
  }
  const unit = { ...unitDraft({ app_id: 100, owner_id: 9 }), id: 1001, created_at: 0, updated_at: 0 }
  const snapshot = catalogSnapshot({
    version: 1,
    loadedAt: 0,
    units: [unit],
    campaigns: [campaign],
    categories: [],
    channels: [],
  })
  const presenter = createAllocationPresenter({
    signer: createPayloadSigner('s'.repeat(32)),
    publicBaseUrl: 'https://allot.test',
  })
  const allocation = (device: number, ifa: string, token: string): Allocation => ({
    unit,
    request: { unit_id: 1001, device_id: device, ifa, unit_device_token: token, sdk_version: 3000 },
    now: NOW,
    currentSlot: 2 * 24 + 12,
    ads: snapshot.ads,
    upstream: [],
    contents: [],
    channels: snapshot.channelsById,
    device: { unitId: 1001, appId: 100, customTargets: [undefined, undefined, undefined] },
  })
  for (const [device, ifa, token] of [
    [1, 'ifa-1', 'user-1'],
    [2, 'ifa "2" & more', '사용자 = 2'],
  ] as const) {
    const body = JSON.parse(presenter.allocation(allocation(device, ifa, token)).toString('utf8'))
    assertWire(V1Allocation, body, 'presented allocation')
    const item = body.campaigns[0]
    assert.ok(item)
    assert.equal(item.name, tricky)
    assert.deepEqual(item.extra, { note: tricky, n: 1, nested: { list: [1, 'a'] } })
    assert.equal(item.id, 1_000_000_007)
    assert.equal(item.is_media, true)
    assert.equal(item.target_app, 'com.a,com.b')
    const q = new URL(item.click_url).searchParams
    assert.equal(q.get('device_id'), String(device))
    assert.equal(q.get('ifa'), ifa)
    assert.equal(q.get('unit_device_token'), token)
    assert.equal(q.get('campaign_name'), tricky)
    assert.equal(q.get('redirect_url'), `https://a.test/%EC%BF%A0%ED%8F%B0?x=%221%22&ifa=${ifa}`)
    assert.equal(new URL(item.impression_urls?.[0] ?? '').searchParams.get('data'), item.payload)
    assert.equal(item.impression_urls?.[1], 'https://t.test/imp?a=1&b=%222%22')
  }
})

test('a content is dropped exactly when its click URL would pass 2,048 characters', () => {
  const unit = { ...unitDraft({ app_id: 100 }), id: 1001, created_at: 0, updated_at: 0 }
  const presenter = createAllocationPresenter({
    signer: createPayloadSigner('s'.repeat(32)),
    publicBaseUrl: 'https://allot.test',
  })
  let lastKept = 0
  let firstDropped: number | undefined
  for (let n = 1500; n < 1800 && firstDropped === undefined; n++) {
    const content: Campaign = {
      ...campaignDraft({
        name: 'long',
        type: 'C',
        start_date: NOW - 1000,
        end_date: NOW + 86_400_000,
        click_url: `https://a.test/${'x'.repeat(n)}?ifa={ifa}`,
      }),
      id: n,
      created_at: 0,
      updated_at: 0,
    }
    const snapshot = catalogSnapshot({
      version: 1,
      loadedAt: 0,
      units: [unit],
      campaigns: [content],
      categories: [],
      channels: [],
    })
    const request = { unit_id: 1001, device_id: 1, ifa: 'ifa-1', unit_device_token: 'u', sdk_version: 3000 }
    const body = JSON.parse(
      presenter
        .contentAllocation({
          unit,
          request,
          now: NOW,
          currentSlot: 0,
          ads: [],
          upstream: [],
          contents: snapshot.contents,
          channels: snapshot.channelsById,
          device: { unitId: 1001, appId: 100, customTargets: [undefined, undefined, undefined] },
        })
        .toString(),
    )
    const [item] = body.campaigns
    if (item) lastKept = item.click_url.length
    else firstDropped = n
  }
  assert.equal(lastKept, 2048, 'the longest kept URL is exactly at the limit')
  assert.ok(firstDropped, 'a longer one is dropped')
})
