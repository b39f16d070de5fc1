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
export type TargetingPredicate = ((device: DeviceContext) => boolean) & {
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
 * Compiles every targeting field and its exclusion twin into one predicate (docs/architecture.md §W2.1):
 * each field of the table compiles its own rule, and only the fields the campaign restricts are checked,
 * in matching order. Allocation runs the predicate for thousands of candidates per request; most campaigns restrict
 * a few fields, so the loop is short.
 */
export function compileTargeting(campaign: Campaign): TargetingPredicate {
  const values = campaign as unknown as TargetingValues
  const checked: FieldEntry[] = []
  const rules: unknown[] = []
  for (const field of FIELDS_BY_RANK) {
    const rule = field.compile(values)
    if (rule === undefined) continue
    checked.push(field)
    rules.push(rule)
  }
  const n = checked.length
  const firstMissAt = (device: DeviceContext): number => {
    const d = device as DeviceView
    for (let i = 0; i < n; i++) if (!(checked[i] as FieldEntry).check(rules[i], d)) return i
    return -1
  }
  const matches = n === 0 ? () => true : (device: DeviceContext) => firstMissAt(device) < 0
  return Object.assign(matches, {
    fields: checked.map((f) => f.name as TargetingField),
    firstMissField(device: DeviceContext): TargetingField | undefined {
      const i = firstMissAt(device)
      return i < 0 ? undefined : ((checked[i] as FieldEntry).name as TargetingField)
    },
    firstMiss(device: DeviceContext): TargetingMiss | undefined {
      const i = firstMissAt(device)
      if (i < 0) return undefined
      const field = checked[i] as FieldEntry
      return { field: field.name as TargetingField, ...field.describe(rules[i], device as DeviceView) }
    },
  })
}
