/**
 * Bundles the dashboard (dashboard/: TypeScript, CSS, index.html, uPlot from npm) into one directory that
 * Allot serves at /dashboard: dashboard.js, dashboard.css and index.html, each with a precompressed .br and
 * .gz beside it. Run by `npm run build` (postbuild), so `npm start` serves it; no CDN at run time.
 *
 *   node --import tsx scripts/build-dashboard.ts [outDir]   (default: dist/dashboard)
 */
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { brotliCompress, constants, gzip } from 'node:zlib'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SOURCE = join(ROOT, 'dashboard')

/** Builds the dashboard into `outDir` (emptied first); returns the files written, compressed ones included. */
export async function buildDashboard(outDir = join(ROOT, 'dist', 'dashboard')): Promise<string[]> {
  await rm(outDir, { recursive: true, force: true })
  await mkdir(outDir, { recursive: true })
  await build({
    entryPoints: { dashboard: join(SOURCE, 'main.ts') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome111', 'firefox111', 'safari16'],
    minify: true,
    legalComments: 'linked',
    logLevel: 'warning',
    tsconfig: join(SOURCE, 'tsconfig.json'),
  })
  await copyFile(join(SOURCE, 'index.html'), join(outDir, 'index.html'))
  const files = await readdir(outDir)
  await Promise.all(files.map((name) => precompress(join(outDir, name))))
  return (await readdir(outDir)).sort()
}

const brotli = promisify(brotliCompress)
const gz = promisify(gzip)

/** Writes `file`.br and `file`.gz (served by @fastify/static's preCompressed to clients that accept them). */
async function precompress(file: string): Promise<void> {
  const data = await readFile(file)
  await writeFile(
    `${file}.br`,
    await brotli(data, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
    }),
  )
  await writeFile(`${file}.gz`, await gz(data, { level: 9 }))
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ? resolve(process.argv[2]) : undefined
  const files = await buildDashboard(out)
  console.log(`dashboard built: ${files.join(', ')}`)
}
