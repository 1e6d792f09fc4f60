// Builds the demo's React page (crates/reverify-demo/web/react/app.jsx) into
// crates/reverify-demo/web/react/dist/app.js, with React from this package's dev
// dependencies and @reverify/browser from src/. Run: npm run build:demo
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const web = `${root}../crates/reverify-demo/web/react`;

await build({
  entryPoints: [`${web}/app.jsx`],
  outfile: `${web}/dist/app.js`,
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  jsx: 'automatic',
  nodePaths: [`${root}node_modules`],
  alias: {
    '@reverify/browser/react': `${root}src/react.js`,
    '@reverify/browser/ui': `${root}src/ui/index.js`,
    '@reverify/browser': `${root}src/index.js`,
  },
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
console.log(`built ${web}/dist/app.js`);
