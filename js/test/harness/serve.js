// A static file server for js/ (tests and the demo page): node serve.js [port]
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

const root = new URL('../../', import.meta.url);
const types = { '.js': 'text/javascript', '.html': 'text/html', '.css': 'text/css', '.svg': 'image/svg+xml' };

// REVERIFY_CORE=dir: test the UI against a real core instead of test/harness/core-stub.js — its
// files are served as /src/*.js and the page's import map is dropped. REVERIFY_CORE=1:
// the real core already in js/src/ (once both parts are in one tree).
const core = process.env.REVERIFY_CORE;

export function serve(port = 0) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    try {
      if (path.includes('..')) throw new Error('no');
      const own = core?.length > 1 && /^\/src\/[\w-]+\.js$/.test(path);
      let body = await readFile(own ? core + path.slice(4) : new URL('.' + path, root));
      if (core && path.endsWith('.html')) body = String(body).replace(/<script type="importmap">[^]*?<\/script>/, '');
      res.writeHead(200, {
        'content-type': types[extname(path)] || 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await serve(Number(process.argv[2]) || 8377);
  console.log(`http://127.0.0.1:${server.address().port}/test/harness/index.html#demo`);
}
