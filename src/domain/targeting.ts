import type { Campaign } from './catalog.js'
import {
  type Described,
  type DeviceContext,
  type DeviceView,
  FIELDS_BY_RANK,
  type FieldEntry,
  TARGETING_TABLE,
  type TargetingField,
  type TargetingValues,
} from './targeting-fields.js'

export type { DeviceContext, TargetingField } from './targeting-fields.js'
export { provinceOf } from './targeting-fields.js'

/**
 * A campaign's targeting compiled once per snapshot into a single predicate, which can also say which
 * field a device fails (the decision explainer and the reach estimate), with the same checks.
 */
export type TargetingPredicate = {
  /** Whether the device passes every field the campaign restricts. */
  matches(device: DeviceContext): boolean
  /** The first field, in matching order, that the device fails; undefined when it matches. */
  firstMissField(device: DeviceContext): TargetingField | undefined
  /** The first field the device fails with the values involved; undefined when it matches. */
  firstMiss(device: DeviceContext): TargetingMiss | undefined
  /** The fields this campaign restricts, in matching order. */
  readonly fields: readonly TargetingField[]
}

/** Why a device misses a campaign's targeting: the field, the device's value and the campaign's rule. */
export type TargetingMiss = { field: TargetingField } & Described

/** A target's name as campaigns spell it: `<name>` in `target_<name>` / `detarget_<name>`. */
type Stripped<F> = F extends `target_${infer N}` ? N : never
export type ListTarget = Stripped<TargetingField>

const NORMALIZERS = new Map<string, (value: string) => string>(
  TARGETING_TABLE.map((e) => [e.name.replace(/^target_/, ''), e.normalize]),
)

/** Normalises a value of a list target so that admin input and SDK input compare equal. */
export function normalizeTargetValue(name: ListTarget, value: string): string {
  return (NORMALIZERS.get(name) ?? ((v: string) => v.trim()))(value)
}

/** Every targeting field in the order matching checks them (most selective first). */
export const TARGETING_FIELDS: readonly TargetingField[] = FIELDS_BY_RANK.map((e) => e.name as TargetingField)

/**
 * Compiled targeting shared between the campaigns of one catalog build: a rule per distinct field value,
 * a predicate per distinct targeting, a list of checked fields per distinct set of them. Most campaigns of a
 * large catalog repeat a few targetings (one unit, one country, a gender).
 */
export type TargetingCache = {
  rules: Map<string, unknown>
  predicates: Map<string, TargetingPredicate>
  checked: Map<string, readonly FieldEntry[]>
}

export const targetingCache = (): TargetingCache => ({
  rules: new Map(),
  predicates: new Map(),
  checked: new Map(),
})

/** What a field's rule is compiled from: the campaign's values of the field's own keys. */
const ruleKey = (field: FieldEntry, values: TargetingValues): string =>
  `${field.name}=${JSON.stringify([...field.listKeys, ...field.boundKeys].map((k) => values[k]))};`

/**
 * Compiles every targeting field and its exclusion twin into one predicate (docs/architecture.md §W2.1):
 * each field of the table compiles its own rule, and only the fields the campaign restricts are checked,
 * in matching order. Allocation runs the predicate for thousands of candidates per request; most campaigns restrict
 * a few fields, so the loop is short. With `cache`, campaigns with the same targeting share one predicate.
 */
export function compileTargeting(campaign: Campaign, cache?: TargetingCache): TargetingPredicate {
  const values = campaign as unknown as TargetingValues
  const checked: FieldEntry[] = []
  const rules: unknown[] = []
  let key = ''
  for (const field of FIELDS_BY_RANK) {
    const rule = field.compile(values)
    if (rule === undefined) continue
    checked.push(field)
    if (!cache) {
      rules.push(rule)
      continue
    }
    const k = ruleKey(field, values)
    key += k
    if (!cache.rules.has(k)) cache.rules.set(k, rule)
    rules.push(cache.rules.get(k))
  }
  if (checked.length === 0) return EVERYWHERE
  const found = cache?.predicates.get(key)
  if (found) return found
  // Copies: an array grown by push keeps room for 16 entries, which 100,000 campaigns pay for twice.
  const made = new CompiledTargeting(sharedChecked(checked, cache), rules.slice())
  cache?.predicates.set(key, made)
  return made
}

/** One list per distinct set of checked fields (a handful in any catalog). */
function sharedChecked(checked: FieldEntry[], cache: TargetingCache | undefined): readonly FieldEntry[] {
  if (!cache) return checked.slice()
  const key = checked.map((f) => f.name).join()
  const found = cache.checked.get(key)
  if (found) return found
  const made = checked.slice()
  cache.checked.set(key, made)
  return made
}

/**
 * The predicate of `checked` fields with their compiled `rules`, in matching order. An instance of a class,
 * not closures with properties: a catalog of 100,000 campaigns holds tens of thousands of distinct
 * targetings, and a function given properties keeps them in a dictionary of its own (about 1 KB a predicate
 * in all, against some 100 bytes here).
 */
class CompiledTargeting implements TargetingPredicate {
  constructor(
    private readonly checked: readonly FieldEntry[],
    private readonly rules: readonly unknown[],
  ) {}

  get fields(): readonly TargetingField[] {
    return this.checked.map((f) => f.name as TargetingField)
  }

  matches(device: DeviceContext): boolean {
    return this.firstMissAt(device) < 0
  }

  firstMissField(device: DeviceContext): TargetingField | undefined {
    const i = this.firstMissAt(device)
    return i < 0 ? undefined : ((this.checked[i] as FieldEntry).name as TargetingField)
  }

  firstMiss(device: DeviceContext): TargetingMiss | undefined {
    const i = this.firstMissAt(device)
    if (i < 0) return undefined
    const field = this.checked[i] as FieldEntry
    return { field: field.name as TargetingField, ...field.describe(this.rules[i], device as DeviceView) }
  }

  private firstMissAt(device: DeviceContext): number {
    const d = device as DeviceView
    const { checked, rules } = this
    for (let i = 0; i < checked.length; i++) if (!(checked[i] as FieldEntry).check(rules[i], d)) return i
    return -1
  }
}

/** The targeting of a campaign that restricts nothing: every device matches (one class at every call site). */
const EVERYWHERE: TargetingPredicate = new CompiledTargeting([], [])
