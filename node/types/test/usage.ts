// The public API used as node/README.md shows it, with the real frameworks' own types,
// type-checked (strict) through the package's `exports` map by `npm run check:types`.
// Never run: it only has to compile. Lines marked `@ts-expect-error` must NOT compile, so
// declarations that are too loose (or `any`) fail the check too.
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';

import {
  CrossSiteRequestError,
  TokenError,
  authErrorResponse,
  authenticateRequest,
  createVerifier,
  normalizeOrigin,
  tokenFromHeaders,
  type AuthObject,
  type JwkSet,
  type ReverifyOptions,
  type SignedInAuthObject,
} from '@reverify/server';
import * as ex from '@reverify/server/express';
import * as fy from '@reverify/server/fastify';
import * as hn from '@reverify/server/hono';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
declare function expectType<T extends true>(ok: T): void;
declare const jwks: JwkSet;
const issuer = 'https://auth.example.com';

// ---- the core auth object

export async function core(request: Request): Promise<Response> {
  const verifier = createVerifier({ issuer, jwks });
  const auth = await authenticateRequest(verifier, request, { allowedOrigins: ['https://admin.example.com'] });
  expectType<Equal<typeof auth, AuthObject>>(true);
  if (!auth.isAuthenticated) {
    expectType<Equal<typeof auth.error, TokenError | CrossSiteRequestError>>(true);
    expectType<Equal<typeof auth.userId, null>>(true);
    return authErrorResponse(auth);
  }
  expectType<Equal<typeof auth, SignedInAuthObject>>(true);
  const userId: string = auth.userId;
  const token: string = await auth.getToken();
  auth.has({ reverification: 'strict' });
  auth.has({ reverification: { level: 'second_factor', afterMinutes: 10 } });
  // @ts-expect-error: only reverification is modelled
  auth.has({ role: 'org:admin' });
  // @ts-expect-error: not a preset
  auth.has({ reverification: 'Strict' });
  // @ts-expect-error: the object is read-only
  auth.userId = 'someone';
  await authenticateRequest(verifier, { method: 'POST', headers: { cookie: ['a=1'], host: undefined } });
  tokenFromHeaders(request.headers, '__session')?.source satisfies 'bearer' | 'cookie' | undefined;
  normalizeOrigin('https://a.example') satisfies string | null;
  new CrossSiteRequestError().body.code satisfies 'cross_site_request';
  return new Response(`${userId} ${token}`);
}

// The options: verifier options or a prebuilt verifier, never both.
const verifier = createVerifier({ issuer, jwks });
const options: ReverifyOptions[] = [
  { issuer, jwks },
  { issuer, jwks, authorizedParties: ['https://app.example.com'], cookieName: 'app', hostScheme: 'https' },
  { verifier, allowedOrigins: ['https://admin.example.com'] },
];
// @ts-expect-error: both a verifier and its options
const both: ReverifyOptions = { verifier, issuer, jwks };
// @ts-expect-error: no issuer
const noIssuer: ReverifyOptions = { jwks };
void [options, both, noIssuer];

// ---- Express

const app = express();
app.use(ex.reverifyMiddleware({ issuer, jwks }));
app.get('/api/me', ex.requireAuth(), (req, res) => {
  const auth = ex.getAuth(req);
  res.json({ userId: auth.userId, fromRequest: req.auth?.userId ?? null, query: req.query });
});
app.post('/api/transfer', (req, res) => {
  const { has } = ex.getAuth(req);
  if (!has({ reverification: 'strict' })) return ex.sendReverificationError(res, 'strict');
  res.json({ ok: true });
});
app.post('/api/close', ex.requireReverification('strict_mfa'), (req, res) => {
  res.send(req.params);
});
app.get('/api/other', (req, res) => {
  const auth = ex.getAuth(req);
  if (!auth.isAuthenticated) return ex.sendAuthError(res, auth);
  expectType<Equal<typeof auth.userId, string>>(true);
  // @ts-expect-error: req.auth is absent until the middleware ran
  req.auth.userId;
  res.end();
});
// @ts-expect-error: not a policy
ex.requireReverification('paranoid');
// @ts-expect-error: afterMinutes is required
ex.requireReverification({ level: 'second_factor' });
// @ts-expect-error: options are required
ex.reverifyMiddleware();

// ---- Fastify

const fastify = Fastify();
await fastify.register(fy.reverifyPlugin, { issuer, jwks, allowedOrigins: ['https://admin.example.com'] });
// @ts-expect-error: the plugin's options are checked
await fastify.register(fy.reverifyPlugin, { issuer: 42, jwks });
fastify.get('/api/me', { preHandler: fy.requireAuth() }, async (request) => {
  const auth = fy.getAuth(request);
  const fromRequest: AuthObject | null = request.auth;
  return { userId: auth.userId, other: fromRequest?.userId };
});
fastify.post<{ Body: { amount: number } }>(
  '/api/transfer',
  { preHandler: [fy.requireAuth(), fy.requireReverification('strict')] },
  async (request, reply) => {
    const { has } = fy.getAuth(request);
    if (!has({ reverification: { level: 'multi_factor', afterMinutes: 5 } }))
      return fy.sendReverificationError(reply, { level: 'multi_factor', afterMinutes: 5 });
    return { amount: request.body.amount };
  },
);
fastify.addHook('onRequest', fy.requireAuth());
// @ts-expect-error: a hook, not a plugin
fastify.register(fy.requireAuth());

// ---- Hono

const hono = new Hono();
hono.use('*', hn.reverifyMiddleware({ issuer, jwks }));
hono.get('/api/me', hn.requireAuth(), (c) => {
  const auth = c.get('reverifyAuth');
  expectType<Equal<typeof auth, AuthObject>>(true);
  return c.json({ userId: hn.getAuth(c).userId });
});
hono.post('/api/transfer', (c) => {
  const { has } = hn.getAuth(c);
  if (!has({ reverification: 'strict' })) return hn.reverificationErrorResponse('strict');
  return c.json({ ok: true });
});
hono.post('/api/close', hn.requireReverification('strict_mfa'), (c) => c.text('closed'));
const typed = new Hono<hn.ReverifyEnv>();
typed.get('/', (c) => c.text(c.var.reverifyAuth.userId ?? 'anonymous'));
// An app with its own bindings and variables takes the middleware as well.
const bound = new Hono<{ Bindings: { DB: string }; Variables: { requestId: string } }>();
bound.use('*', hn.reverifyMiddleware({ issuer, jwks }));
bound.post('/api/transfer', hn.requireReverification('strict'), (c) =>
  c.json({ db: c.env.DB, id: c.get('requestId'), userId: hn.getAuth(c).userId }),
);
const key: 'reverifyAuth' = hn.AUTH_KEY;
// @ts-expect-error: not a key the middleware sets
hono.get('/x', (c) => c.text(c.get('reverifyAuthh')));
void [key, hn.authErrorResponse];
