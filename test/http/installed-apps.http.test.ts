import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib'
import { parseDatabaseUrl } from '../../src/config/config.js'
import { openDatabase } from '../../src/infra/database/database.js'
import { sqlBackends } from '../helpers/sql-backends.js'
import { form, startTestApp, type TestApp } from '../helpers/test-app.js'
import { AllotErrorBody, assertWire, V1InstalledAppsUpdated } from '../helpers/v1-wire.js'

const IFA = '069e6a97-b341-43a0-b9fc-df2556f06a25'

/** What the SDK puts in `installed_apps`: base64 (standard alphabet) of the zlib-compressed list. */
const encode = (list: string) => deflateSync(Buffer.from(list, 'utf8')).toString('base64')
/** Android's Base64.DEFAULT: a line break after every 76 characters and at the end. */
const androidBase64 = (bytes: Buffer) => `${bytes.toString('base64').replace(/.{76}/g, '$&\n')}\n`

for (const backend of await sqlBackends()) {
  describe(`installed apps upload (docs/architecture.md §W1) on ${backend.name}`, {
    skip: backend.skip,
  }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp(await backend.createDatabaseUrl())
    })
    after(async () => {
      await t?.close()
      await backend.cleanup()
    })

    const upload = (fields: Record<string, string | number>, url = '/api/update_installed_apps/') =>
      t.app.inject({
        method: 'POST',
        url,
        payload: form(fields),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
    const uploadOk = async (fields: Record<string, string | number>, url?: string) => {
      const res = await upload(fields, url)
      assert.equal(res.statusCode, 200, res.body)
      assertWire(V1InstalledAppsUpdated, res.json(), 'POST /api/update_installed_apps/')
    }
    const stored = async (appId: number, ifa: string) => {
      const database = openDatabase(parseDatabaseUrl(t.databaseUrl, 1))
      try {
        const row = await database.db
          .selectFrom('installed_apps')
          .selectAll()
          .where('app_id', '=', appId)
          .where('ifa', '=', ifa)
          .executeTakeFirst()
        return row && { packages: row.packages, updated_at: Number(row.updated_at) }
      } finally {
        await database.close()
      }
    }

    test('an SDK upload answers update_period 86400 and stores the list under app_id and ifa', async () => {
      await uploadOk({
        ifa: IFA,
        app_id: 419318955785795,
        device_id: 1092,
        sdk_version: 1820,
        installed_apps: encode('com.kakao.talk,com.nhn.android.search,com.android.chrome'),
      })
      const row = await stored(419318955785795, IFA)
      assert.equal(row?.packages, 'com.kakao.talk,com.nhn.android.search,com.android.chrome')
      assert.ok(row && Math.abs(row.updated_at - Date.now()) < 60_000, 'updated_at is epoch ms')
      await uploadOk({ ifa: IFA, app_id: 5, installed_apps: encode('com.a') }, '/api/update_installed_apps')
      assert.equal((await stored(5, IFA))?.packages, 'com.a', 'the path works without its slash')
    })

    test("Android's line-broken base64 is accepted", async () => {
      const list = Array.from({ length: 60 }, (_, i) => `com.example.app${i}`).join(',')
      const installed_apps = androidBase64(deflateSync(list))
      assert.ok(installed_apps.includes('\n'))
      await uploadOk({ ifa: IFA, app_id: 10, installed_apps })
      assert.equal((await stored(10, IFA))?.packages, list)
    })

    test('newline-separated lists are accepted; spaces, empty items and repeats are dropped', async () => {
      await uploadOk({ ifa: IFA, app_id: 11, installed_apps: encode('com.a\ncom.b\r\n com.c ,,com.a,\n') })
      assert.equal((await stored(11, IFA))?.packages, 'com.a,com.b,com.c')
      await uploadOk({ ifa: IFA, app_id: 12, installed_apps: encode('') })
      assert.equal((await stored(12, IFA))?.packages, '', 'an empty list is a list')
    })

    test('a second upload replaces the list', async () => {
      await uploadOk({ ifa: IFA, app_id: 13, installed_apps: encode('com.old,com.kept') })
      await uploadOk({ ifa: IFA, app_id: 13, installed_apps: encode('com.kept,com.new') })
      assert.equal((await stored(13, IFA))?.packages, 'com.kept,com.new')
      await uploadOk({ ifa: 'other-ifa', app_id: 13, installed_apps: encode('com.x') })
      assert.equal((await stored(13, IFA))?.packages, 'com.kept,com.new', 'another ifa is another row')
    })

    test('the app id is app_id when positive, else unit_id (an empty app_id counts as none)', async () => {
      await uploadOk({ ifa: IFA, unit_id: 20, installed_apps: encode('com.unit') })
      assert.equal((await stored(20, IFA))?.packages, 'com.unit')
      await uploadOk({ ifa: IFA, app_id: 21, unit_id: 22, installed_apps: encode('com.both') })
      assert.equal((await stored(21, IFA))?.packages, 'com.both')
      assert.equal(await stored(22, IFA), undefined)
      await uploadOk({ ifa: IFA, app_id: 0, unit_id: 23, installed_apps: encode('com.zero') })
      assert.equal((await stored(23, IFA))?.packages, 'com.zero')
      await uploadOk({ ifa: IFA, app_id: '', unit_id: 24, installed_apps: encode('com.empty') })
      assert.equal((await stored(24, IFA))?.packages, 'com.empty')
    })

    test('a missing ifa, app id or list is a 400 naming the field', async () => {
      const list = encode('com.a')
      const cases: [Record<string, string | number>, RegExp][] = [
        [{ app_id: 30, installed_apps: list }, /body\.ifa is required/],
        [{ ifa: '', app_id: 30, installed_apps: list }, /body\.ifa/],
        [{ ifa: 'x'.repeat(65), app_id: 30, installed_apps: list }, /body\.ifa/],
        [{ ifa: IFA, installed_apps: list }, /body\.app_id \(or body\.unit_id\) is required/],
        [{ ifa: IFA, app_id: 0, unit_id: 0, installed_apps: list }, /body\.app_id \(or body\.unit_id\)/],
        [{ ifa: IFA, app_id: 'abc', installed_apps: list }, /body\.app_id/],
        [{ ifa: IFA, app_id: -3, installed_apps: list }, /body\.app_id/],
        [{ ifa: IFA, app_id: 30 }, /body\.installed_apps is required/],
        [{ ifa: IFA, app_id: 30, installed_apps: '' }, /body\.installed_apps/],
      ]
      for (const [fields, msg] of cases) {
        const res = await upload(fields)
        assert.equal(res.statusCode, 400, `${JSON.stringify(fields).slice(0, 120)} → ${res.body}`)
        assertWire(AllotErrorBody, res.json())
        assert.equal(res.json().code, 1001)
        assert.match(res.json().msg, msg)
      }
      assert.equal(await stored(30, IFA), undefined)
    })

    test('bad base64 or data that is not a zlib stream is a 400 and stores nothing', async () => {
      const zlibBytes = deflateSync('com.a,com.b')
      const cases: [string, RegExp][] = [
        ['not base64!', /not standard, padded base64/],
        [zlibBytes.toString('base64url'), /not standard, padded base64/],
        [zlibBytes.toString('base64').replace(/=+$/, '').slice(0, -1), /not standard, padded base64/],
        [zlibBytes.toString('base64').replace(/^(.{4})/, '$1 '), /not standard, padded base64/],
        [Buffer.from('com.a,com.b').toString('base64'), /not a zlib stream/],
        [gzipSync('com.a,com.b').toString('base64'), /not a zlib stream/],
        [deflateRawSync('com.a,com.b').toString('base64'), /not a zlib stream/],
        [zlibBytes.subarray(0, zlibBytes.length - 3).toString('base64'), /not a zlib stream/],
      ]
      for (const [installed_apps, msg] of cases) {
        const res = await upload({ ifa: IFA, app_id: 40, installed_apps })
        assert.equal(res.statusCode, 400, `${installed_apps} → ${res.body}`)
        assertWire(AllotErrorBody, res.json())
        assert.match(res.json().msg, msg)
      }
      assert.equal(await stored(40, IFA), undefined)
    })

    test('a zip bomb is refused: more than 256 KiB once inflated is a 400, 256 KiB is kept', async () => {
      const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024, 'a'))
      assert.ok(bomb.length < 100 * 1024, `${bomb.length} bytes on the wire`)
      const res = await upload({ ifa: IFA, app_id: 50, installed_apps: bomb.toString('base64') })
      assert.equal(res.statusCode, 400, res.body)
      assert.match(res.json().msg, /inflates to more than 256 KiB/)
      const justOver = deflateSync(Buffer.alloc(256 * 1024 + 1, 'b')).toString('base64')
      assert.equal((await upload({ ifa: IFA, app_id: 50, installed_apps: justOver })).statusCode, 400)
      assert.equal(await stored(50, IFA), undefined)

      const names: string[] = []
      for (let i = 0; names.join(',').length < 256 * 1024 - 40; i++) names.push(`com.example.package${i}`)
      const list = names.join(',').padEnd(256 * 1024, ',')
      assert.equal(list.length, 256 * 1024)
      await uploadOk({ ifa: IFA, app_id: 51, installed_apps: encode(list) })
      assert.equal((await stored(51, IFA))?.packages, names.join(','))
    })
  })
}
