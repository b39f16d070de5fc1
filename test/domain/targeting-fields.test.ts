import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { parseDatabaseUrl } from '../../src/config/config.js'
import type { Campaign } from '../../src/domain/catalog.js'
import type { CatalogSnapshot } from '../../src/domain/catalog-snapshot.js'
import { campaignDraft } from '../../src/domain/drafts.js'
import { createReachSample, type SeenDevice } from '../../src/domain/reach.js'
import { compileTargeting, TARGETING_FIELDS, type TargetingField } from '../../src/domain/targeting.js'
import {
  type DeviceFacts,
  deviceContext,
  emptyTargeting,
  type FieldEntry,
  TARGETING_TABLE,
} from '../../src/domain/targeting-fields.js'
import { CampaignPatchSchema, CampaignSchema } from '../../src/http/dto/admin.dto.js'
import { targetingFromDto } from '../../src/http/presenters/insight.presenter.js'
import { openDatabase } from '../../src/infra/database/database.js'
import { migrateToLatest } from '../../src/infra/database/migrator.js'
import { campaignToRow, createCampaignRepository } from '../../src/repositories/campaign.repository.js'
import { createReach } from '../../src/services/reach.service.js'

// Every consumer of the targeting table, checked field by field: a field added to the table that one of
// them does not handle fails here, named.

const NOW = Date.UTC(2026, 5, 15, 12)
/** A request that carries every attribute the SDK can send. */
const facts: DeviceFacts = {
  request: {
    app_id: 100,
    sdk_version: 2100,
    year_of_birth: 1996,
    sex: 'F',
    region: '서울특별시 관악구',
    carrier: 'SKT',
    country: 'kr',
    language: 'ko-KR',
    device_os: 30,
    registered_date: NOW / 1000 - 5 * 86_400,
    custom_target_1: 'gold',
    custom_target_2: 'a',
    custom_target_3: 'b',
  },
  unit: { id: 1001, app_id: 100, country: 'KR' },
  now: NOW,
  localYear: () => 2026,
  registeredAt: undefined,
  installed: new Set(['com.example.game']),
}
const device = deviceContext(facts)
/** The same device as the reach sample stores it. */
const seen: SeenDevice = {
  deviceId: 42,
  sample: 0,
  seenAt: NOW,
  unitId: 1001,
  appId: 100,
  country: 'KR',
  gender: 'F',
  language: 'ko',
  carrier: device.carrier,
  region: '서울특별시 관악구',
  yearOfBirth: 1996,
  os: 30,
  sdk: 2100,
  registeredAt: NOW - 5 * 86_400_000,
  customTargets: ['gold', 'a', 'b'],
}

/** The campaign keys that make `field` miss the full device (lists: a value it does not have). */
function missing(field: FieldEntry): Partial<Campaign> {
  if (field.name === 'detarget_app') return { detarget_app: ['com.example.game'] }
  if (field.kind === 'list') return { [field.listKeys[0] as string]: ['zz-nothing'] }
  return { [field.boundKeys[0] as string]: 1_000_000 }
}
/** The campaign keys that `field` restricts and the full device passes. */
function matching(field: FieldEntry): Partial<Campaign> {
  if (field.name === 'detarget_app') return { detarget_app: ['com.other'] }
  if (field.name === 'target_app') return { target_app: ['com.example.game'] }
  if (field.kind === 'range') return { [field.boundKeys[0] as string]: 0 }
  const value = field.describe(field.compile({ [field.listKeys[0] as string]: ['x'] }), device).deviceValue
  return { [field.listKeys[0] as string]: Array.isArray(value) ? value : [String(value)] }
}
function campaign(fields: Partial<Campaign>): Campaign {
  const draft = campaignDraft({ name: 'c', type: 'I', start_date: 0, end_date: NOW * 2, ...fields })
  return { ...draft, id: 1, created_at: 0, updated_at: 0 }
}

describe('every field of the targeting table reaches every consumer', () => {
  test('the table lists each field once, and matching checks every field', () => {
    const names = TARGETING_TABLE.map((f) => f.name)
    assert.equal(new Set(names).size, names.length)
    assert.deepEqual([...TARGETING_FIELDS].sort(), [...names].sort())
    assert.equal(new Set(TARGETING_TABLE.map((f) => f.rank)).size, names.length, 'ranks are distinct')
  })

  for (const field of TARGETING_TABLE as readonly FieldEntry[]) {
    const keys = [...field.listKeys, ...field.boundKeys]
    describe(field.name, () => {
      test('the admin schemas take and answer its keys', () => {
        for (const key of keys) {
          assert.ok(key in CampaignSchema.properties, `${key} in the campaign answer`)
          assert.ok(key in CampaignPatchSchema.properties, `${key} in the campaign input`)
        }
      })

      test('an empty targeting holds its keys, restricting nothing', () => {
        const empty = emptyTargeting() as Record<string, unknown>
        for (const key of keys) assert.ok(key in empty, key)
        assert.equal(field.compile(empty), undefined)
      })

      test('the compiled matcher restricts by it: a device outside fails on it, one inside passes', () => {
        const miss = compileTargeting(campaign(missing(field)))
        assert.deepEqual(miss.fields, [field.name])
        assert.equal(miss.matches(device), false)
        assert.equal(miss.firstMissField(device), field.name)
        assert.equal(miss.firstMiss(device)?.field, field.name)
        assert.equal(compileTargeting(campaign(matching(field))).matches(device), true)
      })

      test('the device context carries what the request supplies for it', () => {
        if (field.attribute) assert.notEqual(device[field.attribute.key as keyof typeof device], undefined)
        const value = field.describe(field.compile(missing(field)), device).deviceValue
        assert.notEqual(value, undefined, 'the device value the explainer shows')
      })

      test('the reach estimate counts it from its own column, or says it ignores it', () => {
        const targeting = missing(field)
        if (field.reach) {
          const sample = createReachSample(10)
          sample.upsert(seen)
          const [day] = sample.count(compileTargeting(campaign(targeting)), NOW, () => 2026, [1])
          assert.equal(day?.matching, 0)
          assert.equal(
            day?.removed.get(field.name as TargetingField),
            1,
            'the stored device misses on this field',
          )
          const [pass] = sample.count(compileTargeting(campaign(matching(field))), NOW, () => 2026, [1])
          assert.equal(pass?.matching, 1, 'the stored device reads back with its value')
        } else {
          const reach = createReach({
            store: { saveSeen: async () => {}, listSeen: async () => [] },
            catalog: { current: () => ({ units: new Map() }) as unknown as CatalogSnapshot },
            clock: () => NOW,
            sampleSize: 10,
            refreshMs: 1000,
            flushMs: 1000,
            scheduler: undefined as never,
            logger: undefined as never,
          })
          assert.deepEqual(reach.estimate(targeting).ignored, [field.name])
        }
      })

      test('the reach request passes its keys on', () => {
        const dto = Object.fromEntries(keys.map((k) => [k, field.boundKeys.includes(k as never) ? 1 : ['x']]))
        assert.deepEqual(Object.keys(targetingFromDto(dto)).sort(), [...keys].sort())
      })
    })
  }
})

describe('the campaign store keeps every targeting key (SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'allot-targeting-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('a campaign restricting every field reads back unchanged', async () => {
    const database = openDatabase(parseDatabaseUrl(`sqlite:${join(dir, 'db.sqlite')}`, 2))
    try {
      await migrateToLatest(database.db)
      const repo = createCampaignRepository(database.db, () => NOW)
      const all = Object.assign(
        {},
        ...(TARGETING_TABLE as readonly FieldEntry[]).map(missing),
      ) as Partial<Campaign>
      const { id: _, created_at: __, updated_at: ___, ...draft } = campaign(all)
      const created = await repo.create(draft)
      for (const key of Object.keys(all))
        assert.deepEqual(created?.[key as keyof Campaign], all[key as keyof Campaign], key)
    } finally {
      await database.close()
    }
  })

  test('the servable campaigns of one listing share equal lists (frozen), and each reads back as written', async () => {
    const database = openDatabase(parseDatabaseUrl(`sqlite:${join(dir, 'shared.sqlite')}`, 2))
    try {
      await migrateToLatest(database.db)
      const repo = createCampaignRepository(database.db, () => NOW)
      const draft = (fields: Partial<Campaign>) => {
        const { id: _, created_at: __, updated_at: ___, ...rest } = campaign({ status: 'active', ...fields })
        return rest
      }
      const alike = {
        target_unit: ['1001'],
        target_gender: ['F'],
        week_slot: [1, 2, 3],
        categories: ['news'],
      }
      await repo.create(draft(alike))
      await repo.create(draft(alike))
      await repo.create(draft({ ...alike, target_unit: ['1002'], week_slot: [4] }))
      const listed: Campaign[] = []
      await repo.eachServableCampaign(NOW, (one) => listed.push(one))
      const [a, b, c] = listed
      assert.ok(a && b && c)
      for (const key of ['target_unit', 'target_gender', 'week_slot', 'categories'] as const) {
        assert.equal(a[key], b[key], `${key}: one list for both`)
        assert.ok(Object.isFrozen(a[key]), `${key}: frozen, so no campaign can change another's`)
        assert.deepEqual(a[key], alike[key])
      }
      assert.notEqual(c.target_unit, a.target_unit)
      assert.deepEqual([c.target_unit, c.week_slot, c.target_gender], [['1002'], [4], ['F']])
      assert.equal(c.target_gender, a.target_gender)
    } finally {
      await database.close()
    }
  })

  test('a listing longer than a page hands over every servable campaign once, in id order', async () => {
    const database = openDatabase(parseDatabaseUrl(`sqlite:${join(dir, 'pages.sqlite')}`, 2))
    try {
      await migrateToLatest(database.db)
      const repo = createCampaignRepository(database.db, () => NOW)
      // 1,500 rows over several pages: every 7th paused and every 11th ended, which the listing skips.
      const rows = Array.from({ length: 1500 }, (_, i) => {
        const id = i + 1
        const {
          id: _id,
          created_at: _c,
          updated_at: _u,
          ...draft
        } = campaign({
          name: `c${id}`,
          status: id % 7 === 0 ? 'paused' : 'active',
          end_date: id % 11 === 0 ? NOW - 1 : NOW * 2,
        })
        return { ...campaignToRow(draft, NOW), id, created_at: NOW }
      })
      for (let i = 0; i < rows.length; i += 100)
        await database.db
          .insertInto('campaigns')
          .values(rows.slice(i, i + 100))
          .execute()
      const listed: Campaign[] = []
      await repo.eachServableCampaign(NOW, (one) => listed.push(one))
      const expected = rows.filter((r) => r.id % 7 !== 0 && r.id % 11 !== 0).map((r) => r.id)
      assert.ok(expected.length > 1000)
      assert.deepEqual(
        listed.map((c) => c.id),
        expected,
      )
      assert.deepEqual(
        listed.map((c) => c.name),
        expected.map((id) => `c${id}`),
      )
    } finally {
      await database.close()
    }
  })
})
