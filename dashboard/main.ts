import { token, Unauthorized } from './api.js'
import { createCampaignPanel } from './campaigns.js'
import { byId } from './dom.js'
import { createExplainer } from './explain.js'
import { createLivePanel } from './live.js'
import { createReach } from './reach.js'
import './dashboard.css'

const LIVE_MS = 3_000
const CAMPAIGNS_MS = 10_000

const login = byId('login')
const app = byId('app')
const status = byId('status')
const logout = byId<HTMLButtonElement>('logout')
let timers: ReturnType<typeof setTimeout>[] = []

/** Back to the sign-in form (a refused token, or "Log out"). */
function signOut(message = ''): void {
  token.clear()
  for (const t of timers) clearTimeout(t)
  timers = []
  app.hidden = true
  logout.hidden = true
  login.hidden = false
  status.textContent = ''
  byId('login-error').textContent = message
  byId<HTMLInputElement>('token').focus()
}

/** True when the error was a refused token (handled by signing out). */
function handled(err: unknown): boolean {
  if (!(err instanceof Unauthorized)) return false
  signOut('The admin token was refused. Enter ADMIN_TOKEN again.')
  return true
}

/** Runs `task` now and every `ms` after it finishes; failures show in the status line. */
function every(ms: number, what: string, task: () => Promise<void>): void {
  const run = async () => {
    try {
      await task()
      status.textContent = `Updated ${new Date().toLocaleTimeString()}`
      status.classList.remove('error')
    } catch (err) {
      if (handled(err)) return
      status.textContent = `${what}: ${err instanceof Error ? err.message : String(err)} (retrying)`
      status.classList.add('error')
    }
    timers.push(setTimeout(run, ms))
  }
  void run()
}

function start(): void {
  login.hidden = true
  app.hidden = false
  logout.hidden = false
  byId('refresh-s').textContent = String(LIVE_MS / 1000)
  const live = createLivePanel()
  const campaigns = createCampaignPanel()
  // New allocations mean new devices seen: the reach estimate follows them.
  every(LIVE_MS, 'live figures', async () => reach.noteAllocations(await live.refresh()))
  every(CAMPAIGNS_MS, 'campaign report', campaigns.refresh)
  campaigns.campaignNames().then(explainer.campaigns, handled)
  void reach.estimate()
}

const explainer = createExplainer(handled)
const reach = createReach(handled)

byId<HTMLFormElement>('login-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const input = byId<HTMLInputElement>('token')
  token.set(input.value.trim())
  input.value = ''
  start()
})
logout.addEventListener('click', () => signOut())

if (token.get()) start()
else signOut()
