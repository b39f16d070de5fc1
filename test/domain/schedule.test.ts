import assert from 'node:assert/strict'
import { test } from 'node:test'
import { localHourStart } from '../../src/domain/schedule.js'

/** The local hour's start the slow way: the instant minus the local minutes and seconds past the hour. */
function expected(timezone: string, at: number): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: timezone, minute: 'numeric', second: 'numeric' })
    .formatToParts(at)
    .reduce<Record<string, number>>((all, p) => Object.assign(all, { [p.type]: Number(p.value) }), {})
  return at - (at % 1000) - ((parts.minute ?? 0) * 60 + (parts.second ?? 0)) * 1000
}

test('the local hour start in whole-hour, half-hour and 45-minute zones, across minutes and DST', () => {
  const zones = [
    'Asia/Seoul',
    'UTC',
    'Asia/Kolkata',
    'Asia/Kathmandu',
    'America/New_York',
    'Australia/Lord_Howe',
  ]
  // Around New York's DST start (2026-03-08 07:00 UTC) and Lord Howe's half-hour DST end (2026-04-05 15:00 UTC).
  const starts = [
    Date.UTC(2026, 2, 8, 6, 50),
    Date.UTC(2026, 3, 5, 14, 20),
    Date.UTC(2026, 11, 4, 16, 59, 59),
  ]
  for (const start of starts)
    for (let at = start; at < start + 2 * 3_600_000; at += 7_777) {
      // Zones asked in turn, so each zone's remembered minute is checked against the next call's.
      for (const zone of zones) assert.equal(localHourStart(zone, at), expected(zone, at), `${zone} at ${at}`)
    }
})
