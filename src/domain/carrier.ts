/**
 * Carrier names arrive in many spellings (SDK, OS locale, MCC-MNC). Each known carrier maps to one code so
 * that `target_carrier: ["SKT"]` matches "SK Telecom", "SKTelecom", "45005" and "에스케이텔레콤" alike.
 */
const ALIASES: Record<string, readonly string[]> = {
  skt: ['skt', 'sktelecom', 'sktelecomco', 'sk', 'skcomms', '45005', '45011', '에스케이텔레콤', 'sk텔레콤'],
  kt: ['kt', 'olleh', 'ktf', 'ktcorp', 'koreatelecom', '45008', '45004', '45002', '케이티', '올레'],
  lgu: ['lgu', 'lguplus', 'lgt', 'lgtelecom', 'lgup', 'uplus', '45006', '엘지유플러스', 'lg유플러스'],
  docomo: ['docomo', 'nttdocomo', '44010'],
  softbank: ['softbank', '44020'],
  au: ['au', 'kddi', '44050', '44051'],
}

const BY_SPELLING = new Map<string, string>()
for (const [code, spellings] of Object.entries(ALIASES)) for (const s of spellings) BY_SPELLING.set(s, code)

/** One code per carrier: known spellings map to their code, others compare without case, spaces or punctuation. */
export function normalizeCarrier(value: string): string {
  const squashed = value
    .toLowerCase()
    .replace(/\+/g, '')
    .replace(/[^\p{L}\p{N}]/gu, '')
  return BY_SPELLING.get(squashed) ?? squashed
}
