import type { ExplanationDto } from '../src/http/dto/insight.dto.js'
import { admin } from './api.js'
import { byId, checkNumberFields, el, table, zonedTime } from './dom.js'

/** A verdict's detail as "name: value" pairs (the rule itself is its own column). */
function detailText(detail: Record<string, unknown> | null): string {
  if (!detail) return ''
  return Object.entries(detail)
    .filter(([key]) => key !== 'rule')
    .map(
      ([key, value]) =>
        `${key.replaceAll('_', ' ')}: ${value === null ? '—' : typeof value === 'object' ? JSON.stringify(value) : String(value)}`,
    )
    .join('; ')
}

/** The form's non-empty fields, with the SDK's ids defaulted from the device id. */
function explainBody(form: HTMLFormElement): Record<string, string> {
  const body: Record<string, string> = {}
  for (const [key, value] of new FormData(form))
    if (typeof value === 'string' && value.trim() !== '') body[key] = value.trim()
  const device = body.device_id ?? ''
  body.ifa ??= `ifa-${device}`
  body.unit_device_token ??= `user-${device}`
  return body
}

/** Renders POST /admin/explain's answer as a summary, the device as read, and a table of verdicts. */
function renderExplanation(x: ExplanationDto): Node[] {
  const device = Object.entries(x.device).map(([k, v]) => [
    k.replaceAll('_', ' '),
    v === null ? 'not sent' : String(v),
  ])
  const summary = el(
    'p',
    { class: 'summary', 'data-explained': x.campaigns.length },
    `Device ${x.device_id} on unit ${x.unit_id} at `,
    el('time', { datetime: x.at, 'data-timezone': x.timezone }, zonedTime(x.at, x.timezone)),
    ` (${x.timezone}, the unit's time; week slot ${x.current_slot.slot}): `,
    el('strong', {}, `${x.served} of ${x.campaigns.length} campaigns served`),
    x.first_allocation ? '; never allocated on this unit before (allocation would register it now)' : '',
    x.activity_known ? '' : '; its activity could not be read',
    '.',
  )
  return [
    summary,
    table('The device as the rules read it', ['Attribute', 'Value'], device),
    table(
      'Verdict per campaign',
      ['Campaign', 'Kind', 'Served', 'Kept out by', 'Details'],
      x.campaigns.map((c) => [
        `${c.name} #${c.campaign_id}`,
        c.is_ad ? 'ad' : 'content',
        el('span', { class: c.served ? 'state closed' : 'state muted' }, c.served ? 'yes' : 'no'),
        c.rule ?? '—',
        detailText(c.detail as Record<string, unknown> | null),
      ]),
      { wrap: true },
    ),
  ]
}

/** The explainer form: POST /admin/explain on submit. */
export function createExplainer(onError: (err: unknown) => boolean) {
  const form = byId<HTMLFormElement>('explain-form')
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const error = byId('explain-error')
    const result = byId('explain-result')
    error.textContent = ''
    if (!checkNumberFields(form)) return
    result.setAttribute('aria-busy', 'true')
    try {
      const x = await admin<ExplanationDto>('/explain', explainBody(form))
      result.replaceChildren(...renderExplanation(x))
    } catch (err) {
      if (!onError(err)) error.textContent = err instanceof Error ? err.message : String(err)
    } finally {
      result.removeAttribute('aria-busy')
    }
  })
  form.addEventListener('input', () => checkNumberFields(form))
  return {
    campaigns(list: readonly { id: number; name: string }[]): void {
      const select = byId<HTMLSelectElement>('x-campaign')
      const chosen = select.value
      select.replaceChildren(
        el('option', { value: '' }, 'every campaign of the unit'),
        ...list.map((c) => el('option', { value: c.id }, `${c.name} #${c.id}`)),
      )
      select.value = chosen
    },
  }
}
