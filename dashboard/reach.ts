import { ApiError, admin } from './api.js'
import { byId, checkNumberFields, debounce, el, fmt, table } from './dom.js'

type Reach = {
  ignored: string[]
  sample: { devices: number; rate: number }
  windows: {
    days: number
    seen: number
    matching: number
    margin_95: number
    rules: { field: string; removes: number; remaining: number }[]
  }[]
}

/** New traffic re-estimates at most this often (the estimate reads every instance's sightings). */
const NEW_DATA_MIN_MS = 5_000

const LISTS = ['target_gender', 'target_region', 'target_language', 'target_country', 'target_carrier']

/** The form as an admin campaign draft: lists as arrays, bounds as numbers, empty fields left out. */
function reachDraft(form: HTMLFormElement): Record<string, unknown> {
  const draft: Record<string, unknown> = {}
  for (const [key, raw] of new FormData(form)) {
    const value = typeof raw === 'string' ? raw.trim() : ''
    if (value === '') continue
    if (LISTS.includes(key))
      draft[key] = value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean)
    else draft[key] = Number(value)
  }
  return draft
}

/** The reach form: POST /admin/reach as the fields change (debounced), the latest answer only. */
export function createReach(onError: (err: unknown) => boolean) {
  const form = byId<HTMLFormElement>('reach-form')
  let inFlight: AbortController | undefined
  let estimatedAt = 0
  /** The fleet's allocation count last noted, and whether it moved since the last estimate. */
  let allocations: number | undefined
  let newTraffic = false

  /** The estimate's tables: devices reached per window, then rule by rule over the widest window. */
  function reachParts(r: Reach): Node[] {
    const widest = r.windows.at(-1)
    return [
      table(
        'Devices reached',
        ['Seen in the last', 'Devices seen', 'Matching', '± (95 %)'],
        r.windows.map((w) => [
          `${w.days} day${w.days === 1 ? '' : 's'}`,
          fmt.int(w.seen),
          fmt.int(w.matching),
          fmt.int(w.margin_95),
        ]),
        { numeric: [1, 2, 3] },
      ),
      widest && widest.rules.length > 0
        ? table(
            `Rule by rule, last ${widest.days} days`,
            ['Rule', 'Removes', 'Remaining'],
            widest.rules.map((rule) => [rule.field, fmt.int(rule.removes), fmt.int(rule.remaining)]),
            { numeric: [1, 2] },
          )
        : el('p', { class: 'hint' }, 'No targeting rule in the draft: every device seen matches.'),
      el(
        'p',
        { class: 'hint' },
        `Sample: ${fmt.int(r.sample.devices)} devices (rate ${fmt.pct(r.sample.rate)}).`,
        r.ignored.length ? ` Not evaluated: ${r.ignored.join(', ')}.` : '',
      ),
    ]
  }

  async function estimate(): Promise<void> {
    // A field that is not a number says so beside itself; the last estimate stays until it is fixed.
    if (!checkNumberFields(form)) return
    estimatedAt = Date.now()
    newTraffic = false
    inFlight?.abort()
    const mine = new AbortController()
    inFlight = mine
    const error = byId('reach-error')
    const result = byId('reach-result')
    try {
      const r = await admin<Reach>('/reach', reachDraft(form), mine.signal)
      error.textContent = ''
      result.replaceChildren(...reachParts(r))
    } catch (err) {
      if (mine.signal.aborted) return
      if (!onError(err)) error.textContent = err instanceof ApiError ? err.message : String(err)
    }
  }

  const later = debounce(() => void estimate(), 300)
  form.addEventListener('input', () => checkNumberFields(form))
  form.addEventListener('input', later)
  form.addEventListener('change', later)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    void estimate()
  })
  return {
    estimate,
    /**
     * Told the fleet's allocation count at each live refresh: when it moved (new devices may have been seen),
     * estimates again, at most every few seconds (a move during the pause is kept for the next call).
     */
    noteAllocations(total: number): void {
      if (allocations !== undefined && total !== allocations) newTraffic = true
      allocations = total
      if (newTraffic && Date.now() - estimatedAt >= NEW_DATA_MIN_MS) void estimate()
    },
  }
}
