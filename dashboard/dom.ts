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
  options: { numeric?: readonly number[]; rowClass?: (i: number) => string | undefined } = {},
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
    el('table', {}, el('caption', {}, caption), el('thead', {}, head), el('tbody', {}, ...body)),
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
