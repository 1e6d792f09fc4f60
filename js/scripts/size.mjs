// The size budget: core + UI, minified and gzipped, must stay within 15 KB (15,000 bytes).
// The React adapter is measured on its own (React itself excluded).
// Run: npm run size
import { existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const LIMIT = 15_000;
const root = fileURLToPath(new URL('..', import.meta.url));

async function measure(entries, external = []) {
  const out = await build({
    stdin: { contents: entries.map((e) => `export * from './${e}';`).join('\n'), resolveDir: root, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    external: ['react', ...external],
    write: false,
  });
  const code = out.outputFiles[0].contents;
  return { min: code.length, gz: gzipSync(code, { level: 9 }).length };
}

const rows = [['core', ['src/index.js']]];
const hasUi = existsSync(`${root}/src/ui/index.js`);
if (hasUi) rows.push(['core + ui', ['src/index.js', 'src/ui/index.js']]);
let budget;
for (const [name, entries] of rows) {
  const { min, gz } = await measure(entries);
  console.log(`${name.padEnd(14)} ${String(min).padStart(7)} B min  ${String(gz).padStart(6)} B min+gz`);
  budget = gz;
}
// The adapter alone: it imports the core, which an app loads anyway.
const react = await measure(['src/react.js'], ['./reverification.js']);
console.log(
  `${'react adapter'.padEnd(14)} ${String(react.min).padStart(7)} B min  ${String(react.gz).padStart(6)} B min+gz (core and React excluded)`,
);
console.log(`budget: ${hasUi ? 'core + ui' : 'core (no src/ui yet)'} ${budget} / ${LIMIT} B min+gz`);
if (budget > LIMIT) {
  console.error(`over budget by ${budget - LIMIT} B`);
  process.exit(1);
}
