import type { ServedCampaign } from './catalog.js'

/**
 * The content filters an SDK sends with an allocation (docs/architecture.md §W2): comma lists, ads
 * unaffected.
 */
export type ContentFilters = {
  /** Only contents of these categories (absent = every category). */
  categories: ReadonlySet<string> | undefined
  /** No contents of these categories. */
  excludedCategories: ReadonlySet<string> | undefined
  /** No contents of these channels. */
  excludedChannels: ReadonlySet<number> | undefined
}

/** Whether a campaign passes the request's content filters (ads always do). */
export type ContentFilter = (c: ServedCampaign) => boolean

/** Compiles the request's filters once per allocation. */
export function contentFilter({
  categories,
  excludedCategories,
  excludedChannels,
}: ContentFilters): ContentFilter {
  if (!categories && !excludedCategories && !excludedChannels) return () => true
  return (c) =>
    c.is_ad ||
    ((categories === undefined || c.categories.some((cat) => categories.has(cat))) &&
      (excludedCategories === undefined || !c.categories.some((cat) => excludedCategories.has(cat))) &&
      (excludedChannels === undefined || c.channel_id === null || !excludedChannels.has(c.channel_id)))
}
