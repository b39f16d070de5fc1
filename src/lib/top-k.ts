/**
 * The `k` best items by `compare` (negative = a ranks before b), best first, in O(n log k): ranking a pool
 * of 25 from tens of thousands of candidates should not sort them all.
 */
export function topK<T>(items: Iterable<T>, k: number, compare: (a: T, b: T) => number): T[] {
  if (k <= 0) return []
  // A binary heap with the worst kept item at the root, so a better newcomer replaces it.
  const heap: T[] = []
  const worse = (i: number, j: number) => compare(heap[i] as T, heap[j] as T) > 0
  const swap = (i: number, j: number) => {
    const t = heap[i] as T
    heap[i] = heap[j] as T
    heap[j] = t
  }
  const up = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!worse(i, parent)) return
      swap(i, parent)
      i = parent
    }
  }
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let worst = i
      if (l < heap.length && worse(l, worst)) worst = l
      if (r < heap.length && worse(r, worst)) worst = r
      if (worst === i) return
      swap(i, worst)
      i = worst
    }
  }
  for (const item of items) offer(item)
  return heap.sort(compare)

  function offer(item: T): void {
    if (heap.length < k) {
      heap.push(item)
      up(heap.length - 1)
    } else if (compare(item, heap[0] as T) < 0) {
      heap[0] = item
      down(0)
    }
  }
}
