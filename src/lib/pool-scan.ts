/**
 * What the scans need of an item: a catalog entry (src/domain/catalog-snapshot.ts) has these fields; this
 * folder imports nothing from the domain, so the shape is declared here.
 */
export type Scanned = {
  readonly campaign: {
    readonly id: number
    readonly first_display_priority: number
    readonly display_weight: number
  }
}

/**
 * The ranked ads of the pool (docs/architecture.md, "Ranking"): higher `first_display_priority` tiers
 * first; inside a tier, a weighted random order by `display_weight`, drawn as a weighted sample without
 * replacement (exponential keys -ln(u) / w, smallest first; weight 0 goes last, ties by id). Buckets are
 * sorted by priority.
 *
 * The rules are checked lazily: each tier's keys are drawn for every ad in it (a key costs far less than
 * the rules), then ads are taken in key order and only those reached are checked, until `limit` servable
 * ads are found. A tier of SAMPLED_TIER ads or more draws no key per ad: see sampleTier. A 100,000-campaign catalog has thousands of ads per tier and a pool of 25, so most ads are
 * never checked. Which ads an unservable ad's key displaces does not change the sample: keys are
 * independent, so the servable ads' order is the weighted order among them alone.
 */
export function pickAds<T extends Scanned>(
  buckets: readonly (readonly T[])[],
  servable: (e: T) => boolean,
  random: () => number,
  limit: number,
): T[] {
  const at = buckets.map(() => 0)
  const out: T[] = []
  while (out.length < limit) {
    const from = at.slice()
    const priority = nextPriority(buckets, at)
    if (priority === Number.NEGATIVE_INFINITY) break
    let size = 0
    for (let b = 0; b < buckets.length; b++) {
      at[b] = tierEnd(buckets[b] as readonly T[], at[b] as number, priority)
      size += (at[b] as number) - (from[b] as number)
    }
    // The tier as one list, in bucket order; built only where it is keyed whole.
    const tier = () => buckets.flatMap((list, b) => list.slice(from[b], at[b]))
    const wanted = limit - out.length
    if (size < SAMPLED_TIER) takeInKeyOrder(tier(), servable, random, wanted, out, undefined)
    else sampleTier(buckets, from, at, tier, servable, random, wanted, out)
  }
  return out
}

/** Where the ads of `priority` starting at `from` end in a bucket sorted by priority, highest first. */
function tierEnd(list: readonly Scanned[], from: number, priority: number): number {
  let lo = from
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((list[mid] as Scanned).campaign.first_display_priority >= priority) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The highest priority at the buckets' heads; -Infinity when every bucket is used up. */
function nextPriority(buckets: readonly (readonly Scanned[])[], at: readonly number[]): number {
  let priority = Number.NEGATIVE_INFINITY
  for (let b = 0; b < buckets.length; b++) {
    const head = (buckets[b] as readonly Scanned[])[at[b] as number]
    if (head && head.campaign.first_display_priority > priority)
      priority = head.campaign.first_display_priority
  }
  return priority
}

/** Tiers at least this large are drawn from prefix sums (a draw per ad reached), smaller ones keyed whole. */
export const SAMPLED_TIER = 256

/** Each bucket's running sums of weight: sums[i] is the weight of the bucket's ads before the i-th. */
const prefixSums = new WeakMap<readonly Scanned[], Float64Array>()

function sumsOf(bucket: readonly Scanned[]): Float64Array {
  let sums = prefixSums.get(bucket)
  if (!sums) {
    sums = new Float64Array(bucket.length + 1)
    for (let i = 0; i < bucket.length; i++)
      sums[i + 1] = (sums[i] as number) + Math.max(0, (bucket[i] as Scanned).campaign.display_weight)
    prefixSums.set(bucket, sums)
  }
  return sums
}

/**
 * A large tier, as takeInKeyOrder would order it, without a key per ad: successive weighted draws (each ad
 * not yet drawn with probability weight ÷ weight left) from the buckets' prefix sums, an ad drawn twice
 * drawn again. Successive draws and exponential keys give the same distribution of orders. Each draw is a
 * binary search, so the cost follows the ads reached, not the tier's size. When draws keep landing on ads
 * already drawn (most of the tier unservable, or only weight-0 ads left), the rest of the tier is keyed whole,
 * which continues the same distribution: what is left is ordered as if the drawn ads had never been there.
 */
function sampleTier<T extends Scanned>(
  buckets: readonly (readonly T[])[],
  from: readonly number[],
  to: readonly number[],
  tier: () => readonly T[],
  servable: (e: T) => boolean,
  random: () => number,
  wanted: number,
  out: T[],
): void {
  const sums = buckets.map((b) => sumsOf(b))
  const weights = buckets.map((_, b) => {
    const s = sums[b] as Float64Array
    return (s[to[b] as number] as number) - (s[from[b] as number] as number)
  })
  const total = weights.reduce((a, w) => a + w, 0)
  const drawn = new Set<T>()
  let taken = 0
  let misses = 0
  while (taken < wanted && total > 0 && misses < 2 * wanted + 16) {
    const entry = draw(buckets, sums, from, to, weights, random() * total)
    if (!entry || drawn.has(entry)) {
      misses++
      continue
    }
    drawn.add(entry)
    if (servable(entry)) {
      out.push(entry)
      taken++
    }
  }
  if (taken < wanted) takeInKeyOrder(tier(), servable, random, wanted - taken, out, drawn)
}

/** The ad whose share of the tier's weight holds `point` (0 ≤ point < the tier's total). */
function draw<T extends Scanned>(
  buckets: readonly (readonly T[])[],
  sums: readonly Float64Array[],
  from: readonly number[],
  to: readonly number[],
  weights: readonly number[],
  point: number,
): T | undefined {
  let left = point
  for (let b = 0; b < buckets.length; b++) {
    const w = weights[b] as number
    if (left >= w) {
      left -= w
      continue
    }
    const s = sums[b] as Float64Array
    const target = (s[from[b] as number] as number) + left
    // The first ad of the bucket's part of the tier whose running sum after it passes the target.
    let lo = from[b] as number
    let hi = (to[b] as number) - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((s[mid + 1] as number) > target) hi = mid
      else lo = mid + 1
    }
    return (buckets[b] as readonly T[])[lo]
  }
  return undefined
}

/**
 * Appends to `out`, best first, up to `wanted` servable ads of one tier: keys for all of them in a binary
 * min-heap of indices (built in O(n)), popped until enough servable ones are found.
 */
function takeInKeyOrder<T extends Scanned>(
  tier: readonly T[],
  servable: (e: T) => boolean,
  random: () => number,
  wanted: number,
  out: T[],
  skip: ReadonlySet<T> | undefined,
): void {
  const left = skip ? tier.filter((e) => !skip.has(e)) : tier
  const n = left.length
  const keys = new Float64Array(n)
  const heap = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const w = (left[i] as T).campaign.display_weight
    keys[i] = w > 0 ? -Math.log(1 - random()) / w : Number.POSITIVE_INFINITY
    heap[i] = i
  }
  const before = (i: number, j: number) =>
    (keys[i] as number) < (keys[j] as number) ||
    (keys[i] === keys[j] && (left[i] as T).campaign.id < (left[j] as T).campaign.id)
  let size = n
  const down = (from: number) => {
    let p = from
    for (;;) {
      const l = 2 * p + 1
      const r = l + 1
      let best = p
      if (l < size && before(heap[l] as number, heap[best] as number)) best = l
      if (r < size && before(heap[r] as number, heap[best] as number)) best = r
      if (best === p) return
      const t = heap[p] as number
      heap[p] = heap[best] as number
      heap[best] = t
      p = best
    }
  }
  for (let p = (n >> 1) - 1; p >= 0; p--) down(p)
  let taken = 0
  while (taken < wanted && size > 0) {
    const entry = left[heap[0] as number] as T
    size--
    heap[0] = heap[size] as number
    down(0)
    if (servable(entry)) {
      out.push(entry)
      taken++
    }
  }
}

/** How long a content bucket's score bounds are reused (counters move between rebuilds). */
const BOUND_TTL_MS = 1_000

type Bounds<T> = { at: number; entries: T[]; ub: Float64Array }

/**
 * Walks content buckets best bound first and stops once no remaining item can enter the top `limit`.
 * `upperBound` is the best score any device could give an item as of `now` (for contents: favourite
 * category, unseen); it must only fall as time passes, so a bucket's bounds hold until the counters move.
 * Bounds are kept per bucket array for BOUND_TTL_MS (a new snapshot brings new arrays; a clock going back
 * rebuilds them).
 */
export function createContentWalker<T extends object>(upperBound: (e: T, now: number) => number) {
  const bounds = new WeakMap<readonly T[], Bounds<T>>()

  function boundsOf(bucket: readonly T[], now: number): Bounds<T> {
    const known = bounds.get(bucket)
    if (known && now >= known.at && now - known.at < BOUND_TTL_MS) return known
    const scored = bucket.map((e) => ({ e, ub: upperBound(e, now) }))
    scored.sort((a, b) => b.ub - a.ub)
    const fresh = { at: now, entries: scored.map((s) => s.e), ub: Float64Array.from(scored, (s) => s.ub) }
    bounds.set(bucket, fresh)
    return fresh
  }

  /**
   * The servable items that can still reach the top `limit` by `score` (this device's exact score).
   * `slack` is what this device cannot reach of every bound alike (a device without category scores lacks
   * the affinity term), so the order of the bounds stays and only the bar moves.
   */
  return function contentCandidates(
    buckets: readonly (readonly T[])[],
    servable: (e: T) => boolean,
    score: (e: T) => number,
    slack: number,
    now: number,
    limit: number,
  ): T[] {
    const lists = buckets.map((b) => boundsOf(b, now))
    const at = lists.map(() => 0)
    // The best `limit` exact scores seen so far, ascending; best[0] is the bar to beat once full.
    const best: number[] = []
    const out: T[] = []
    for (;;) {
      const pick = highestNext(lists, at)
      if (pick < 0) break
      const list = lists[pick] as Bounds<T>
      const i = at[pick] as number
      at[pick] = i + 1
      if (best.length === limit && (list.ub[i] as number) - slack < (best[0] as number)) break
      const entry = list.entries[i] as T
      if (!servable(entry)) continue
      out.push(entry)
      keepBest(best, limit, score(entry))
    }
    return out
  }
}

/** The list whose next bound is the highest, -1 when every list is used up. */
function highestNext<T>(lists: readonly Bounds<T>[], at: readonly number[]): number {
  let pick = -1
  let top = Number.NEGATIVE_INFINITY
  for (let b = 0; b < lists.length; b++) {
    const list = lists[b] as Bounds<T>
    const i = at[b] as number
    if (i < list.entries.length && (pick < 0 || (list.ub[i] as number) > top)) {
      pick = b
      top = list.ub[i] as number
    }
  }
  return pick
}

/** Adds `exact` to `best`, the ascending top `limit` scores, dropping the lowest when it is full. */
function keepBest(best: number[], limit: number, exact: number): void {
  if (best.length < limit) best.splice(sortedIndex(best, exact), 0, exact)
  else if (exact > (best[0] as number)) {
    best.shift()
    best.splice(sortedIndex(best, exact), 0, exact)
  }
}

/** Where `value` goes in the ascending array `sorted`. */
function sortedIndex(sorted: readonly number[], value: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((sorted[mid] as number) < value) lo = mid + 1
    else hi = mid
  }
  return lo
}
