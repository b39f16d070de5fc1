/**
 * Saves docs/dashboard.png: the dashboard, wide (1440 px), on a fresh server with the demo data, a budgeted
 * campaign and some traffic, after an explanation. `npm run screenshot` (needs Chromium: CHROMIUM_BIN).
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startAllot } from '../test/helpers/allot-process.js'
import { createBudgetedCampaign, launchChromium, signIn, traffic } from '../test/helpers/dashboard-browser.js'
import { buildDashboard } from './build-dashboard.js'

const OUT = join(fileURLToPath(new URL('..', import.meta.url)), 'docs', 'dashboard.png')
const SALE = 'Autumn sale'

await buildDashboard()
const [allot, browser] = await Promise.all([startAllot({ REPORT_FLUSH_MS: '300' }), launchChromium()])
try {
  await createBudgetedCampaign(allot, SALE)
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } })
  await signIn(page, allot.origin)
  await traffic(allot, 1, 60, SALE)
  // The report counters flush every 300 ms here; a reload shows them at once (the token stays).
  await page.waitForTimeout(1000)
  await page.reload()
  await page.getByRole('row', { name: new RegExp(SALE) }).waitFor()
  // Waves of traffic a refresh apart, so the live chart has a line.
  for (const [from, to] of [
    [61, 100],
    [101, 180],
    [181, 220],
    [221, 300],
  ] as const) {
    await traffic(allot, from, to, SALE)
    await page.waitForTimeout(3200)
  }
  await page.getByLabel('Sex').selectOption('F')
  await page.getByLabel('Year of birth').fill('95')
  await page.getByLabel('Campaign', { exact: true }).selectOption({ label: 'Sneaker drop #9' })
  await page.getByRole('button', { name: 'Explain' }).click()
  await page.getByRole('table', { name: 'Verdict per campaign' }).waitFor()
  await page.getByLabel('Gender').selectOption('F')
  await page.getByLabel('Age from').fill('20')
  await page.getByLabel('Age to').fill('39')
  await page.getByRole('table', { name: /Rule by rule/ }).waitFor()
  await page.screenshot({ path: OUT, fullPage: true })
  console.log(`saved ${OUT}`)
} finally {
  await browser.close()
  await allot.stop()
}
