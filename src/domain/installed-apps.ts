/**
 * The package names in an installed-apps upload (docs/architecture.md §W1): v1 split the list on commas;
 * newlines and other whitespace separate too (Android package names contain neither). Empty items and repeats
 * go.
 */
export function parsePackageList(text: string): string[] {
  const packages = new Set<string>()
  for (const item of text.split(/[\s,]+/)) if (item !== '') packages.add(item)
  return [...packages]
}
