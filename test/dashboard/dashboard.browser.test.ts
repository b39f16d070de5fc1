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
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
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
