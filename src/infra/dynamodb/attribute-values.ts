/** A DynamoDB attribute value as the service's JSON carries it (the types Allot stores). */
export type AttributeValue =
  | { S: string }
  | { N: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { M: Record<string, AttributeValue> }
  | { L: AttributeValue[] }

export type WireItem = Record<string, AttributeValue>

/**
 * A plain object as DynamoDB attributes: numbers as `N`, strings `S`, booleans, null, maps and lists;
 * undefined values are left out (as lib-dynamodb's `removeUndefinedValues`). A number must be finite.
 */
export function toItem(value: Readonly<Record<string, unknown>>): WireItem {
  const item: WireItem = {}
  for (const key in value) {
    const v = value[key]
    if (v !== undefined) item[key] = toAttribute(v)
  }
  return item
}

/** One value as a DynamoDB attribute value. */
export function toAttribute(v: unknown): AttributeValue {
  switch (typeof v) {
    case 'string':
      return { S: v }
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`DynamoDB cannot store the number ${v}`)
      return { N: String(v) }
    case 'boolean':
      return { BOOL: v }
    case 'object':
      if (v === null) return { NULL: true }
      if (Array.isArray(v)) return { L: v.filter((x) => x !== undefined).map(toAttribute) }
      return { M: toItem(v as Record<string, unknown>) }
    default:
      throw new TypeError(`DynamoDB cannot store a ${typeof v}`)
  }
}

/** DynamoDB attributes as a plain object: `N` as numbers (the ids and times Allot stores fit in a double). */
export function fromItem(item: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key in item) out[key] = fromAttribute(item[key] as AttributeValue)
  return out
}

function fromAttribute(a: AttributeValue): unknown {
  if ('S' in a) return a.S
  if ('N' in a) return Number(a.N)
  if ('BOOL' in a) return a.BOOL
  if ('NULL' in a) return null
  if ('M' in a) return fromItem(a.M)
  if ('L' in a) return a.L.map(fromAttribute)
  throw new TypeError(`unexpected DynamoDB attribute type ${Object.keys(a).join(',')}`)
}
