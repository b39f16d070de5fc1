import { existsSync } from 'node:fs'
import type { Browser, Page } from 'playwright-core'
import { type AllotProcess, PROCESS_ADMIN_TOKEN } from './allot-process.js'

/** Debian's Chromium (`.ci/run` installs it); CHROMIUM_BIN overrides. */
export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'

/** Why the browser suites cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM)
    ? undefined
    : `no Chromium at ${CHROMIUM} (set CHROMIUM_BIN, or apt-get install chromium)`
}

/** Headless Chromium through playwright-core (no browser download: the system one). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core')
  // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
}

/** A budgeted ad on the demo unit, so the campaign panel has a pacing chart. */
export async function createBudgetedCampaign(allot: AllotProcess, name: string): Promise<number> {
  const day = 86_400_000
  const res = await allot.admin('POST', '/admin/campaigns', {
    name,
    type: 'I',
    click_url: 'https://advertiser.example/sale',
    start_date: new Date(Date.now() - day).toISOString(),
    end_date: new Date(Date.now() + 30 * day).toISOString(),
    first_display_priority: 20,
    unlock_reward: 3,
    budget_type: 'impression',
    budget_daily: 400,
    budget_pacing: 'asap',
  })
  if (res.status !== 201) throw new Error(`campaign not created: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { id: number }).id
}

/**
 * Allocations for devices `from`..`to`, and an impression beacon for each answer's item named `shown`
 * (its first impression URL, as the SDK calls it).
 */
export async function traffic(allot: AllotProcess, from: number, to: number, shown?: string): Promise<void> {
  for (let device = from; device <= to; device++) {
    const res = await allot.allocate(device)
    if (res.status !== 200) throw new Error(`allocation ${res.status}: ${await res.text()}`)
    const { campaigns } = (await res.json()) as { campaigns: { name: string; impression_urls: string[] }[] }
    const item = shown && campaigns.find((c) => c.name === shown)
    const beacon = item ? item.impression_urls[0] : undefined
    if (beacon)
      await fetch(
        beacon
          .replaceAll('__place__', 'lockscreen')
          .replaceAll('__position__', '0')
          .replaceAll('__session_id__', `s${device}`),
      )
  }
}

/** Opens the dashboard and signs in with the keyboard (type the token, Enter). */
export async function signIn(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/dashboard`)
  await page.getByLabel('Admin token').focus()
  await page.keyboard.type(PROCESS_ADMIN_TOKEN)
  await page.keyboard.press('Enter')
  await page.locator('[data-metric="allocations-total"]').waitFor()
}

/** The text of a live tile. */
export const tile = async (page: Page, metric: string) =>
  String(await page.locator(`[data-metric="${metric}"]`).textContent())
