/**
 * Self time by function from a V8 CPU profile (`node --cpu-prof`): the share of the busy time (idle samples
 * left out) whose top frame is each function, grouped by function name and file (node_modules paths
 * shortened to the package).
 */
import { readFileSync } from 'node:fs'

type Frame = { functionName: string; url: string; lineNumber: number }
type Profile = { nodes: { id: number; callFrame: Frame }[]; samples: number[]; timeDeltas: number[] }

export type SelfTime = { share: number; what: string }

/** The `top` functions by self time, with their share of the profile's busy time. */
export function selfTimes(file: string, top = 20): SelfTime[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]))
  const byFunction = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const frame = frames.get(id)
    const dt = profile.timeDeltas[i] ?? 0
    if (!frame || frame.functionName === '(idle)') return
    total += dt
    const key = `${frame.functionName || '(anonymous)'} ${place(frame)}`.trim()
    byFunction.set(key, (byFunction.get(key) ?? 0) + dt)
  })
  return [...byFunction]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([what, t]) => ({ share: total > 0 ? t / total : 0, what }))
}

function place(frame: Frame): string {
  if (frame.url === '') return ''
  const url = frame.url.replace(/^file:\/\//, '')
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/)
  const path = pkg ? `${pkg[1]}: ${pkg[2]}` : url.replace(/^.*?\/(dist|src|node:)/, '$1')
  return `(${path}:${frame.lineNumber + 1})`
}
