// Builds the demo's React page (crates/reverify-demo/web/react/app.jsx) into
// crates/reverify-demo/web/react/dist/app.js, with React (production) from this package's
// dev dependencies and @reverify/browser from src/. The bundle is committed and embedded
// in the demo's binary, so running the demo needs no npm step.
//
//   npm run build:demo                      writes the bundle
//   node scripts/build-demo.mjs --check     rebuilds in memory; fails if the committed
//                                           bundle differs (scripts/test runs it)
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const web = `${root}../crates/reverify-demo/web/react`;
const outfile = `${web}/dist/app.js`;
const check = process.argv.includes('--check');

const result = await build({
  entryPoints: [`${web}/app.jsx`],
  outfile,
  write: false,
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  jsx: 'automatic',
  legalComments: 'eof',
  nodePaths: [`${root}node_modules`],
  alias: {
    '@reverify/browser/react': `${root}src/react.js`,
    '@reverify/browser/ui': `${root}src/ui/index.js`,
    '@reverify/browser': `${root}src/index.js`,
  },
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
const built = result.outputFiles[0].text;
const shown = 'crates/reverify-demo/web/react/dist/app.js';

if (check) {
  let committed = null;
  try {
    committed = readFileSync(outfile, 'utf8');
  } catch {}
  if (committed !== built) {
    console.error(
      `${shown} is out of date with its sources (web/react/app.jsx, web/bank.js, js/src, React): ` +
        'run `npm run build:demo` in js/ and commit the result.',
    );
    process.exit(1);
  }
  console.log(`${shown} is up to date`);
} else {
  mkdirSync(dirname(outfile), { recursive: true });
  writeFileSync(outfile, built);
  console.log(`built ${shown} (${(built.length / 1024).toFixed(0)} KB)`);
}
