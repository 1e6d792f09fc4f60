// Sizes, bundled + minified + gzipped (esbuild, gzip -9):
//   js/src/ui alone (the core module left out): budget 8 KiB
//   core + ui, when the core (js/src/index.js) is in the tree: budget 15 KiB
// node size.js — exits 1 over a budget.
import { build } from 'esbuild'
import { gzipSync } from 'node:zlib'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const path = (p) => fileURLToPath(new URL(p, import.meta.url))
async function size(entry, external) {
  const out = await build({
    entryPoints: [path(entry)],
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    plugins: external
      ? [{ name: 'external', setup: (b) => b.onResolve({ filter: external }, (a) => ({ path: a.path, external: true })) }]
      : [],
  })
  const code = out.outputFiles[0].contents
  return [code.length, gzipSync(code, { level: 9 }).length]
}
let over = false
function report(name, [min, gz], budget) {
  console.log(`${name}: ${min} B minified, ${gz} B minified+gzipped (${(gz / 1024).toFixed(2)} KiB; budget ${budget} KiB)`)
  over ||= gz > budget * 1024
}
report('js/src/ui', await size('../src/ui/index.js', /^\.\.\/index\.js$/), 8)
if (existsSync(path('../src/index.js'))) {
  // Both entry points in one bundle, as an app that imports core and ui would ship them.
  const both = path('./.size-entry.js')
  const { writeFileSync, rmSync } = await import('node:fs')
  writeFileSync(both, "export * from '../src/index.js'\nexport * from '../src/ui/index.js'\n")
  try {
    report('core + ui', await size('./.size-entry.js', /^react$/), 15)
  } finally {
    rmSync(both)
  }
}
process.exit(over ? 1 : 0)
