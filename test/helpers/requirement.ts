/**
 * What a suite does when a real component it needs (a server, a binary) is missing: with CI=true it
 * throws, so the run fails (a missing component is never a pass); outside CI it prints the reason where
 * it cannot be missed and returns a skip reason for `describe(..., { skip })`.
 *
 * @param missing why the component is unavailable, or undefined when it is available
 * @param suite the suite that would be skipped, for the message
 */
export function requireComponent(missing: string | undefined, suite: string): string | undefined {
  if (missing === undefined) return undefined
  const reason = `${missing}; the ${suite} is skipped`
  if (process.env.CI === 'true') throw new Error(`${reason} — not allowed with CI=true`)
  console.warn(`\n*** ${reason} ***\n`)
  return `${missing} (outside CI only)`
}
