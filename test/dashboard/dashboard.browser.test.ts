import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { buildDashboard } from '../../scripts/build-dashboard.js'
import { type AllotProcess, PROCESS_ADMIN_TOKEN, startAllot } from '../helpers/allot-process.js'
import {
  chromiumMissing,
  createBudgetedCampaign,
  launchChromium,
  signIn,
  tile,
  traffic,
} from '../helpers/dashboard-browser.js'
import { requireComponent } from '../helpers/requirement.js'

const skip = requireComponent(chromiumMissing(), 'dashboard browser suite')
const SALE = 'Autumn sale (budgeted)'
/** Page-side expressions (evaluated in the browser; this file is type-checked without the DOM). */
const TOKEN_IN_STORAGE = `sessionStorage.getItem('allot.adminToken')`
/** A tile's leading number ("1,234 ms" → 1234; "—" → NaN). */
const number = (text: string) => Number(/^[\d,.]+/.exec(text)?.[0]?.replaceAll(',', '') ?? Number.NaN)
/** The browser runs in this timezone; the demo unit's is Asia/Seoul. */
const BROWSER_TZ = 'America/Los_Angeles'
/** An unbroken value far wider than the explainer's card. */
const LONG_TOKEN = `segment-${'x'.repeat(240)}`

/** yyyy-mm-dd hh:mm:ss of `iso` in `timeZone`, as the page formats a unit's local time. */
function zoned(iso: string, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    ...{ year: 'numeric', month: '2-digit', day: '2-digit' },
    ...{ hour: '2-digit', minute: '2-digit', second: '2-digit' },
  }).formatToParts(new Date(iso))
  const p = (type: string) => parts.find((x) => x.type === type)?.value
  return `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')}:${p('second')}`
}

/** Page-side: whether the table captioned `caption` is wider than its scrolling wrapper. */
const scrollsSideways = (caption: string) =>
  `(() => { const t = [...document.querySelectorAll('table')].find((x) => x.caption?.textContent === ${JSON.stringify(caption)}); const w = t.parentElement; return w.scrollWidth > w.clientWidth + 1 })()`

/** The "Devices seen" count of the reach table's widest window. */
async function reachSeen(page: Page): Promise<number> {
  const cells = await page
    .getByRole('table', { name: 'Devices reached' })
    .locator('tbody tr')
    .last()
    .locator('td')
    .allInnerTexts()
  return number(cells[0] ?? '')
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

describe('the dashboard in headless Chromium, against the real server', { skip, timeout: 60_000 }, () => {
  let allot: AllotProcess
  let browser: Browser
  let page: Page
  const problems: string[] = []
  const shots = mkdtempSync(join(tmpdir(), 'allot-dashboard-shots-'))

  before(async () => {
    // What `npm run build` does before `npm start`: the bundle the server serves from dist/dashboard.
    await buildDashboard()
    ;[allot, browser] = await Promise.all([startAllot({ REPORT_FLUSH_MS: '300' }), launchChromium()])
    await createBudgetedCampaign(allot, SALE)
    // A campaign for one custom segment whose name is one long word: the explainer's details must wrap it.
    const segment = await allot.admin('POST', '/admin/campaigns', {
      name: 'Segment-only offer',
      type: 'I',
      click_url: 'https://advertiser.example/segment',
      start_date: new Date(Date.now() - 86_400_000).toISOString(),
      end_date: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      custom_target_1: [LONG_TOKEN],
    })
    assert.equal(segment.status, 201, await segment.text())
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, timezoneId: BROWSER_TZ })
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`)
    })
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  })
  after(async () => {
    await browser?.close()
    await allot?.stop()
    console.log(`dashboard screenshots: ${shots}`)
  })

  test('signs in with the token typed into the form; the token stays out of the URL', async () => {
    await signIn(page, allot.origin)
    assert.equal(new URL(page.url()).search, '')
    assert.doesNotMatch(page.url(), new RegExp(PROCESS_ADMIN_TOKEN))
    assert.equal(await page.evaluate(TOKEN_IN_STORAGE), PROCESS_ADMIN_TOKEN)
    assert.equal(await page.getByRole('button', { name: 'Log out' }).isVisible(), true)
  })

  test('the live numbers move after allocations are sent', async () => {
    const before = number(await tile(page, 'allocations-total'))
    await traffic(allot, 1, 30, SALE)
    // The page refreshes every 3 s: wait (bounded) for a refresh that shows them.
    await until(
      async () => number(await tile(page, 'allocations-total')) >= before + 30,
      'allocations counted',
    )
    await until(async () => number(await tile(page, 'requests-per-second')) > 0, 'requests/s above 0')
    assert.match(await tile(page, 'latency-p99'), /\d ms/)
    assert.match(await tile(page, 'fill-rate'), /^100 %/)
    assert.match(await tile(page, 'postbacks-pending'), /^0/)
  })

  test('the live panel shows the fleet: its instance count and a row per instance', async () => {
    assert.equal(await page.locator('#instances-count').textContent(), '1 instance')
    const instances = page.getByRole('table', { name: 'Figures per instance' })
    const rows = await instances.locator('tbody tr').allInnerTexts()
    assert.equal(rows.length, 1)
    assert.match(rows[0] ?? '', /\(this one\)/)
    const cells = await instances.locator('tbody td').allInnerTexts()
    assert.equal(
      number(cells[1] ?? ''),
      number(await tile(page, 'allocations-total')),
      'one instance: its count is the sum',
    )
  })

  test("today's campaigns show the delivery report, with a pacing chart for the budgeted one", async () => {
    // The report counters are flushed every 300 ms here; a reload reads them at once (the token survives it).
    await page.reload()
    const row = page.getByRole('row', { name: new RegExp(SALE.replace(/[()]/g, '\\$&')) })
    await row.waitFor({ timeout: 10_000 })
    const cells = await row.locator('td').allInnerTexts()
    assert.equal(cells[0], '30', `impressions of ${SALE}: ${cells.join(' | ')}`)
    assert.match(cells[5] ?? '', /^30 of 400\/day impressions/)
    await page.getByRole('img', { name: `${SALE}: delivered today against the even-pacing line` }).waitFor()
  })

  test('the explainer answers as a table', async () => {
    await page.getByLabel('Device id').fill('8000')
    await page.getByLabel('Sex').selectOption('F')
    await page.getByLabel('Year of birth').fill('95')
    await page.getByRole('button', { name: 'Explain' }).click()
    const verdicts = page.getByRole('table', { name: 'Verdict per campaign' })
    await verdicts.waitFor()
    assert.deepEqual(await verdicts.locator('thead th').allInnerTexts(), [
      'Campaign',
      'Kind',
      'Served',
      'Kept out by',
      'Details',
    ])
    const sneakers = await verdicts
      .getByRole('row', { name: /Sneaker drop/ })
      .locator('td')
      .allInnerTexts()
    assert.deepEqual(sneakers.slice(0, 3), ['ad', 'no', 'targeting'], 'men only: not for this device')
    assert.match(sneakers[3] ?? '', /target_gender/)
    const coffee = await verdicts
      .getByRole('row', { name: /Morning coffee coupon/ })
      .locator('td')
      .allInnerTexts()
    assert.deepEqual(coffee.slice(0, 2), ['ad', 'yes'])
  })

  test("the explainer's verdicts wrap long values inside the card, at desktop and phone widths", async () => {
    const segment = page
      .getByRole('table', { name: 'Verdict per campaign' })
      .getByRole('row', { name: /Segment-only offer/ })
    assert.match(String(await segment.textContent()), new RegExp(LONG_TOKEN))
    assert.equal(
      await page.evaluate(scrollsSideways('Verdict per campaign')),
      false,
      'no sideways scroll at 1440 px',
    )
    await page.setViewportSize({ width: 375, height: 812 })
    try {
      await until(
        async () => (await page.evaluate(scrollsSideways('Verdict per campaign'))) === false,
        'wraps at 375 px',
        3_000,
      )
    } finally {
      await page.setViewportSize({ width: 1440, height: 1000 })
    }
  })

  test("the explainer shows its time in the unit's timezone, not the browser's", async () => {
    assert.equal(await page.evaluate('Intl.DateTimeFormat().resolvedOptions().timeZone'), BROWSER_TZ)
    const time = page.locator('#explain-result .summary time')
    const iso = String(await time.getAttribute('datetime'))
    assert.equal(await time.getAttribute('data-timezone'), 'Asia/Seoul')
    assert.equal(await time.textContent(), zoned(iso, 'Asia/Seoul'))
    assert.notEqual(zoned(iso, 'Asia/Seoul'), zoned(iso, BROWSER_TZ))
  })

  test('a non-number in a number field says so next to the field, and nothing is sent', async () => {
    const device = page.getByLabel('Device id')
    await device.fill('eight')
    await page.getByRole('button', { name: 'Explain' }).click()
    const message = page.locator('#x-device + .field-error')
    assert.match(String(await message.textContent()), /Device id: “eight” is not a number/)
    assert.equal(await device.getAttribute('aria-invalid'), 'true')
    assert.equal(await device.getAttribute('aria-describedby'), 'x-device-error')
    await device.fill('8000')
    assert.equal(await message.count(), 0, 'the message goes once the value is a number')
    const age = page.getByLabel('Age from')
    await age.fill('twenty')
    await page.locator('#r-age-min + .field-error').waitFor()
    assert.match(
      String(await page.locator('#r-age-min-error').textContent()),
      /Age from: “twenty” is not a number/,
    )
    await age.fill('')
    assert.equal(await page.locator('#r-age-min-error').count(), 0)
  })

  test('the reach estimate follows the targeting fields', async () => {
    const reached = page.getByRole('table', { name: 'Devices reached' })
    await page.getByLabel('Gender').selectOption('F')
    await page.getByRole('table', { name: /Rule by rule/ }).waitFor()
    assert.match(String(await reached.textContent()), /30 days/)
    const rules = await page
      .getByRole('table', { name: /Rule by rule/ })
      .locator('tbody th')
      .allInnerTexts()
    assert.deepEqual(rules, ['target_gender'])
  })

  test('the reach estimate follows new traffic without touching the form', async () => {
    const before = await reachSeen(page)
    await traffic(allot, 500, 509)
    // The live panel notices the new allocations (every 3 s) and asks for a new estimate.
    await until(async () => (await reachSeen(page)) >= before + 10, 'reach re-estimated', 20_000)
  })

  test('"Campaigns today" pages its rows and filters by unit', async () => {
    for (let i = 0; i < 25; i++) {
      const res = await allot.admin('POST', '/admin/campaigns', {
        name: `Filler ad ${i}`,
        type: 'I',
        click_url: 'https://advertiser.example/filler',
        start_date: new Date(Date.now() - 86_400_000).toISOString(),
        end_date: new Date(Date.now() + 30 * 86_400_000).toISOString(),
        first_display_priority: 30,
      })
      assert.equal(res.status, 201, await res.text())
    }
    const other = await allot.admin('POST', '/admin/units', {
      id: 3003,
      app_id: 33,
      timezone: 'Europe/Berlin',
    })
    assert.equal(other.status, 201, await other.text())
    await traffic(allot, 600, 602)
    const table = page.getByRole('table', { name: /^Delivery per campaign/ })
    const pagerText = page.locator('#campaigns-pager span')
    await until(
      async () => {
        await page.reload()
        await table.waitFor()
        return (
          (await pagerText.count()) > 0 &&
          number(/of (\d+)/.exec(String(await pagerText.textContent()))?.[1] ?? '') > 25
        )
      },
      'more than 25 campaigns reported',
      15_000,
    )
    // Units in two zones now (Seoul, Berlin): "today" for every unit is the day of the zone most units use,
    // where their traffic is kept; UTC's date differs from Seoul's from 15:00 to 24:00 UTC.
    assert.match(String(await page.locator('#campaigns-day').textContent()), /\(Asia\/Seoul\)$/)
    const total = number(/of (\d+)/.exec(String(await pagerText.textContent()))?.[1] ?? '')
    assert.equal(await table.locator('tbody tr').count(), 20, 'one page of 20')
    assert.match(String(await pagerText.textContent()), new RegExp(`^Campaigns 1–20 of ${total}`))
    await page.getByRole('button', { name: 'Next page' }).click()
    assert.equal(await table.locator('tbody tr').count(), Math.min(20, total - 20))
    assert.match(String(await pagerText.textContent()), /^Campaigns 21–/)
    await page.getByLabel('Unit', { exact: true }).selectOption('3003')
    await page.locator('#campaigns p.hint').filter({ hasText: 'No delivery today yet' }).waitFor()
    assert.match(String(await page.locator('#campaigns-day').textContent()), /Europe\/Berlin/)
    assert.equal(await pagerText.count(), 0)
    await page.getByLabel('Unit', { exact: true }).selectOption('1001')
    await table.waitFor()
    assert.equal(await table.locator('tbody tr').count(), 20)
    await page.getByLabel('Unit', { exact: true }).selectOption('')
  })

  test('screenshots, wide and narrow: the page fits a phone without sideways scrolling', async () => {
    await page.screenshot({ path: join(shots, 'dashboard-wide.png'), fullPage: true })
    await page.setViewportSize({ width: 375, height: 812 })
    await page.waitForTimeout(300)
    assert.ok(
      await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'),
      'no horizontal overflow at 375 px',
    )
    await page.screenshot({ path: join(shots, 'dashboard-narrow.png'), fullPage: true })
    for (const name of ['dashboard-wide.png', 'dashboard-narrow.png'])
      assert.ok(statSync(join(shots, name)).size > 20_000, `${name} has content`)
    assert.deepEqual(problems, [], 'no console errors (a CSP violation would be one)')
  })

  test('a refused token takes the page back to the sign-in form', async () => {
    await page.evaluate(`sessionStorage.setItem('allot.adminToken', 'wrong-token-0123456789')`)
    await page.reload()
    await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor()
    assert.equal(await page.getByLabel('Admin token').isVisible(), true)
    assert.equal(await page.evaluate(TOKEN_IN_STORAGE), null)
    problems.length = 0
  })

  after(() => {
    if (process.env.KEEP_DASHBOARD_SHOTS !== 'true') rmSync(shots, { recursive: true, force: true })
  })
})
