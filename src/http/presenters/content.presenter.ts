import type { ContentChannel } from '../../domain/catalog.js'
import { AllotError } from '../../domain/errors.js'
import type { ChannelsResponseDto } from '../dto/content.dto.js'
import { integerOf } from '../numbers.js'

/**
 * The ids of `?ids=`: v1 split on commas and panicked on anything that was not an integer; Allot answers
 * 400 naming the item instead, and tolerates the empty items a trailing comma leaves ("1,2,").
 */
export function channelIdsFromQuery(ids: string): number[] {
  const parsed: number[] = []
  for (const item of ids.split(',')) {
    const text = item.trim()
    if (text === '') continue
    // v1 read them with Go's strconv.Atoi, which takes a leading '+'.
    const id = integerOf(text, { plus: true, maxDigits: 16 })
    if (id === undefined || !Number.isSafeInteger(id)) {
      throw new AllotError('InvalidField', `querystring.ids: '${text.slice(0, 32)}' is not an integer id`)
    }
    parsed.push(id)
  }
  if (parsed.length === 0) throw new AllotError('InvalidField', 'querystring.ids names no channel id')
  return parsed
}

/** Channels → v1's answer: keyed by their id as a string, v1's field order. */
export function channelsToDto(channels: Iterable<ContentChannel>): ChannelsResponseDto {
  const out: ChannelsResponseDto['channels'] = {}
  for (const c of channels) {
    out[String(c.id)] = { id: c.id, category: c.category, icon_url: c.icon_url, name: c.name }
  }
  return { status: 'success', channels: out }
}
