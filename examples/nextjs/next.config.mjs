// The Reverify server runs as its own process; the browser reaches it on this app's origin
// under /auth, so that its cookies (the session, and the `__session` token that
// `auth()` reads) belong to this origin. AUTH_SERVER_URL is where Next finds it; rewrites
// are fixed when the app is built.
import { fileURLToPath } from 'node:url';

const authServer = (process.env.AUTH_SERVER_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
// The SDKs are linked from this repository (`file:../../node`, `file:../../js`): Next must
// be allowed to read files above this directory.
const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));

/** @type {import('next').NextConfig} */
const config = {
  async rewrites() {
    return [{ source: '/auth/:path*', destination: `${authServer}/:path*` }];
  },
  turbopack: { root: repositoryRoot },
  outputFileTracingRoot: repositoryRoot,
  poweredByHeader: false,
};

export default config;
