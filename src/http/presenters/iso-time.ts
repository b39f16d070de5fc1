/** Epoch ms inside, ISO 8601 UTC on the wire (IsoDateTime in dto/common.dto.ts). */
export function toIso(ms: number): string {
  return new Date(ms).toISOString()
}

/** `toIso`, with null for "not set". */
export function toIsoOrNull(ms: number | null): string | null {
  return ms === null ? null : toIso(ms)
}
