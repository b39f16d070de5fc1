/** Small DOM helpers: elements are built with textContent only (no HTML strings). */

type Attrs = Record<string, string | number | boolean | undefined>

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue
    if (name === 'class') node.className = String(value)
    else node.setAttribute(name, value === true ? '' : String(value))
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child)
  return node
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id)
  if (!node) throw new Error(`#${id} is missing`)
  return node as T
}

/** A table with a caption and column headers, in a keyboard-scrollable wrapper for narrow screens. */
export function table(
  caption: string,
  headers: readonly string[],
  rows: readonly (readonly (Node | string)[])[],
  options: {
    numeric?: readonly number[]
    rowClass?: (i: number) => string | undefined
    /** Long values wrap inside the card instead of scrolling the table sideways. */
    wrap?: boolean
  } = {},
): HTMLElement {
  const numeric = new Set(options.numeric ?? [])
  const head = el(
    'tr',
    {},
    ...headers.map((h, i) => el('th', { scope: 'col', class: numeric.has(i) ? 'num' : undefined }, h)),
  )
  const body = rows.map((cells, r) =>
    el(
      'tr',
      { class: options.rowClass?.(r) },
      ...cells.map((c, i) =>
        i === 0 ? el('th', { scope: 'row' }, c) : el('td', { class: numeric.has(i) ? 'num' : undefined }, c),
      ),
    ),
  )
  return el(
    'div',
    { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: 0 },
    el(
      'table',
      { class: options.wrap ? 'wrap' : undefined },
      el('caption', {}, caption),
      el('thead', {}, head),
      el('tbody', {}, ...body),
    ),
  )
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 })

export const fmt = {
  int: (n: number) => integer.format(n),
  dec: (n: number) => decimal.format(n),
  pct: (ratio: number | null) =>
    ratio === null || !Number.isFinite(ratio) ? '—' : `${decimal.format(ratio * 100)} %`,
  ms: (ms: number | null) => (ms === null ? '—' : `${decimal.format(ms)} ms`),
  age: (seconds: number | null) => {
    if (seconds === null) return '—'
    if (seconds < 90) return `${integer.format(seconds)} s`
    if (seconds < 5400) return `${integer.format(seconds / 60)} min`
    return `${decimal.format(seconds / 3600)} h`
  },
}

/** Calls `fn` once the calls stop for `ms`. */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): (...args: A) => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  return (...args: A) => {
    clearTimeout(timer)
    timer = setTimeout(() => fn(...args), ms)
  }
}

/**
 * Checks the form's number fields (those with inputmode="numeric"): each one holding something that is not a
 * whole number gets a message right after it (tied to it by aria-describedby) and aria-invalid; a corrected
 * field loses them. True when every number field is empty or a whole number.
 */
export function checkNumberFields(form: HTMLFormElement): boolean {
  let valid = true
  for (const input of form.querySelectorAll<HTMLInputElement>('input[inputmode="numeric"]')) {
    const value = input.value.trim()
    const ok = value === '' || /^-?\d+$/.test(value)
    valid &&= ok
    const id = `${input.id}-error`
    let message = document.getElementById(id)
    if (ok) {
      message?.remove()
      input.removeAttribute('aria-invalid')
      input.removeAttribute('aria-describedby')
      continue
    }
    const label = form.querySelector(`label[for="${input.id}"]`)?.textContent ?? input.name
    if (!message) {
      message = el('p', { id, class: 'field-error', role: 'alert' })
      input.after(message)
    }
    message.textContent = `${label}: “${value}” is not a number; enter digits only.`
    input.setAttribute('aria-invalid', 'true')
    input.setAttribute('aria-describedby', id)
  }
  return valid
}

/** A date and time as yyyy-mm-dd hh:mm:ss in `timeZone` (not the browser's), for a unit's local times. */
export function zonedTime(at: string | number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(at))
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? ''
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}:${part('second')}`
}
