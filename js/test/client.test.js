import { test, mock, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ReverifyClient, ReverifyError, SIGNED_OUT } from '../src/index.js';
import { deferred, fakeFetch, flush, json, jwt, session, user } from './fake.js';

const TOKENS = 'POST /v1/sessions/current/tokens';

afterEach(() => {
  mock.timers.reset();
  delete globalThis.document;
  delete globalThis.window;
});

const CLIENT = 'GET /v1/client';
const SIGNED_OUT_BODY = { session: null, user: null, reverification: null };

/** A server whose token endpoint mints t1, t2, … (60 s each). */
function tokenServer(extra = {}) {
  let n = 0;
  return fakeFetch({ [TOKENS]: () => ({ jwt: `t${++n}`, expires_in: 60 }), ...extra });
}

test('requests go under baseUrl, with credentials, JSON bodies and encoded ids', async () => {
  const f = fakeFetch({ 'POST /auth/v1/sign_ins/a%2Fb/attempt': () => ({ id: 'a/b', status: 'needs_second_factor' }) });
  const client = new ReverifyClient({ baseUrl: '/auth/', fetch: f });
  const out = await client.attemptSignIn('a/b', { code: '123456', strategy: 'totp' });
  assert.equal(out.status, 'needs_second_factor');
  const [call] = f.calls;
  assert.equal(call.url, '/auth/v1/sign_ins/a%2Fb/attempt');
  assert.equal(call.init.credentials, 'include');
  assert.equal(call.init.headers['content-type'], 'application/json');
  assert.deepEqual(call.body, { code: '123456', strategy: 'totp' });
  assert.equal(client.user, null, 'a pending second step is not a sign-in');
});

test('error answers become ReverifyError with code, status, body and retryAfter', async () => {
  const client = new ReverifyClient({
    fetch: fakeFetch({
      'POST /v1/sign_ins': () => json(423, { code: 'locked', message: 'locked' }, { 'retry-after': '900' }),
      'GET /v1/me': () => new Response('<html>oops</html>', { status: 502, statusText: 'Bad Gateway' }),
      'POST /v1/me/totp': () =>
        json(403, {
          clerk_error: { type: 'forbidden', reason: 'reverification-error', metadata: { reverification: 'strict' } },
        }),
    }),
  });
  const locked = await client.signInWithPassword('a@example.com', 'pw').catch((e) => e);
  assert.ok(locked instanceof ReverifyError);
  assert.equal(locked.code, 'locked');
  assert.equal(locked.status, 423);
  assert.equal(locked.retryAfter, 900);
  assert.deepEqual(locked.body, { code: 'locked', message: 'locked' });

  const bad = await client.me().catch((e) => e);
  assert.equal(bad.code, 'http_502');
  assert.equal(bad.retryAfter, null);

  const reverify = await client.startTotp().catch((e) => e);
  assert.equal(reverify.code, 'reverification-error');
  assert.equal(reverify.status, 403);

  const offline = new ReverifyClient({ fetch: () => Promise.reject(new TypeError('Failed to fetch')) });
  const net = await offline.me().catch((e) => e);
  assert.equal(net.code, 'network_error');
  assert.equal(net.status, 0);
});

test('getToken caches until shortly before expiry, then refreshes', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const f = tokenServer();
  const client = new ReverifyClient({ fetch: f, refreshMarginSeconds: 10 });
  assert.equal(await client.getToken(), 't1');
  mock.timers.tick(49_000);
  assert.equal(await client.getToken(), 't1', 'still fresh at 49 s');
  assert.equal(f.count(TOKENS), 1);
  // At 50 s (60 s lifetime − 10 s margin) the timer refreshes by itself.
  mock.timers.tick(1_000);
  await flush();
  assert.equal(f.count(TOKENS), 2);
  assert.equal(await client.getToken(), 't2');
  assert.equal(await client.getToken({ force: true }), 't3');
  assert.equal(f.count(TOKENS), 3);
});

test('a stale token is refreshed on demand (no timer needed)', async () => {
  mock.timers.enable({ apis: ['Date'], now: 5_000 });
  const f = tokenServer();
  const client = new ReverifyClient({ fetch: f });
  assert.equal(await client.getToken(), 't1');
  mock.timers.tick(50_001);
  assert.equal(await client.getToken(), 't2');
  assert.equal(f.count(TOKENS), 2);
});

test('concurrent getToken calls share one request', async () => {
  const gate = deferred();
  const f = fakeFetch({ [TOKENS]: () => gate.promise.then(() => ({ jwt: 'only', expires_in: 60 })) });
  const client = new ReverifyClient({ fetch: f });
  const all = Promise.all([client.getToken(), client.getToken(), client.getToken({ force: true })]);
  await flush();
  assert.equal(f.count(TOKENS), 1);
  gate.resolve();
  assert.deepEqual(await all, ['only', 'only', 'only']);
  assert.equal(f.count(TOKENS), 1);
});

test('the margin is at most half of a short token lifetime', async () => {
  mock.timers.enable({ apis: ['Date'], now: 0 });
  const f = fakeFetch({ [TOKENS]: () => ({ jwt: 'short', expires_in: 4 }) });
  const client = new ReverifyClient({ fetch: f, refreshMarginSeconds: 10 });
  await client.getToken();
  await client.getToken();
  assert.equal(f.count(TOKENS), 1, 'a 4 s token is reused for 2 s, not refetched on every call');
});

test('a hidden page does not refresh; becoming visible refreshes a stale token', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  let onVisibility;
  globalThis.document = {
    hidden: true,
    addEventListener: (type, fn) => type === 'visibilitychange' && (onVisibility = fn),
  };
  const f = tokenServer();
  const client = new ReverifyClient({ fetch: f });
  await client.getToken();
  mock.timers.tick(120_000);
  await flush();
  assert.equal(f.count(TOKENS), 1, 'no refresh while hidden');
  globalThis.document.hidden = false;
  onVisibility();
  await flush();
  assert.equal(f.count(TOKENS), 2);
  assert.equal(await client.getToken(), 't2');
});

test('a completed sign-in stores user, session and its token, and fires onChange', async () => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const token = jwt({ iat: 1000, exp: 1030 }); // 30 s lifetime, read from the token
  const f = tokenServer({ 'POST /v1/sign_ins': () => ({ status: 'complete', user, session, token }) });
  const client = new ReverifyClient({ fetch: f });
  const seen = [];
  const off = client.onChange((s) => seen.push(s));
  await client.signInWithPassword('a@example.com', 'pw');
  assert.deepEqual(seen, [{ user, session, reason: 'signed_in' }]);
  assert.equal(client.user.id, 'usr_1');
  assert.equal(client.session.id, 'ses_1');
  assert.equal(await client.getToken(), token);
  mock.timers.tick(19_000);
  assert.equal(await client.getToken(), token, 'fresh until 30 s − 10 s');
  assert.equal(f.count(TOKENS), 0);
  mock.timers.tick(1_500);
  assert.equal(await client.getToken(), 't1');
  off();
  await client.signOut().catch(() => {});
  assert.equal(seen.length, 1, 'unsubscribed');
});

test('load: the session from GET /v1/client, or null when signed out (never a 401)', async () => {
  let signedIn = true;
  const f = fakeFetch({
    [CLIENT]: () => (signedIn ? { session, user, reverification: {} } : SIGNED_OUT_BODY),
    'GET /v1/sessions/current': () => json(401, { code: 'signed_out' }),
  });
  const client = new ReverifyClient({ fetch: f });
  const changes = [];
  client.onChange((s) => changes.push([s.user?.id ?? null, s.reason]));
  assert.equal((await client.load()).user.id, 'usr_1');
  await client.load();
  assert.deepEqual(changes, [['usr_1', 'signed_in']], 'loading the same session again fires nothing');
  signedIn = false;
  assert.equal(await client.load(), null);
  assert.equal(client.user, null);
  assert.equal(client.session, null);
  assert.deepEqual(changes, [
    ['usr_1', 'signed_in'],
    [null, 'session_ended'],
  ]);
  assert.equal(await client.load(), null, 'signed out stays signed out, silently');
  assert.equal(changes.length, 2);
  assert.equal(f.count('GET /v1/sessions/current'), 0, 'the page never asks the route that answers 401');
});

test('load: a server error still rejects', async () => {
  const client = new ReverifyClient({ fetch: fakeFetch({ [CLIENT]: () => json(503, { code: 'unavailable' }) }) });
  const e = await client.load().catch((e) => e);
  assert.ok(e instanceof ReverifyError);
  assert.equal(e.code, 'unavailable');
});

test('environment: asked once per client; a failure is not kept', async () => {
  let up = false;
  const environment = { app: { name: 'Acme', logo_url: null }, password: { min_length: 8, max_length: 256 } };
  const f = fakeFetch({
    'GET /v1/environment': () => (up ? environment : json(503, { code: 'unavailable', message: 'down' })),
  });
  const client = new ReverifyClient({ fetch: f });
  const [a, b] = await Promise.allSettled([client.environment(), client.environment()]);
  assert.equal(a.status, 'rejected');
  assert.ok(a.reason instanceof ReverifyError);
  assert.equal(a.reason.code, 'unavailable');
  assert.equal(b.reason, a.reason, 'concurrent callers share the one request');
  assert.equal(f.count('GET /v1/environment'), 1);
  up = true;
  assert.deepEqual(await client.environment(), environment, 'a later call asks again');
  assert.equal(await client.environment(), await client.environment());
  assert.equal(f.count('GET /v1/environment'), 2, 'then the answer is kept');
  // Each client asks for itself.
  await new ReverifyClient({ fetch: f }).environment();
  assert.equal(f.count('GET /v1/environment'), 3);
});

test('signOut drops the token; getToken answers null once the server says signed out', async () => {
  const f = fakeFetch({
    'POST /v1/sign_ins': () => ({ status: 'complete', user, session, token: jwt({ iat: 0, exp: 60 }) }),
    'DELETE /v1/sessions/current': () => new Response(null, { status: 204 }),
    [TOKENS]: () => json(401, { code: 'signed_out' }),
  });
  const client = new ReverifyClient({ fetch: f });
  await client.signInWithPassword('a@example.com', 'pw');
  const changes = [];
  client.onChange((s) => changes.push(s));
  await client.signOut();
  assert.deepEqual(changes, [{ user: null, session: null, reason: 'signed_out' }]);
  assert.equal(await client.getToken(), null);
  assert.equal(f.count(TOKENS), 1);
});

test('a completed verification stores its token and fires onChange', async () => {
  const verifiedSession = { ...session, second_factor_verified_at: 5 };
  const f = tokenServer({
    'POST /v1/sessions/current/verifications': (b) => ({ id: 'ver_1', status: 'needs_second_factor', level: b.level }),
    'POST /v1/sessions/current/verifications/ver_1/attempt': (b) =>
      b.code === '000000'
        ? json(422, { code: 'invalid_code', message: 'wrong' })
        : {
            verification: { id: 'ver_1', status: 'complete' },
            session: verifiedSession,
            reverification: {},
            token: 'fresh',
            jwt: 'fresh',
            expires_in: 60,
          },
  });
  const client = new ReverifyClient({ fetch: f });
  assert.equal(await client.getToken(), 't1');
  const changes = [];
  client.onChange((s) => changes.push(s.session));
  const reasons = [];
  client.onChange((s) => reasons.push(s.reason));
  const v = await client.startVerification('multi_factor');
  assert.deepEqual(f.calls.at(-1).body, { level: 'multi_factor' });
  const wrong = await client.attemptVerification(v.id, { strategy: 'totp', code: '000000' }).catch((e) => e);
  assert.equal(wrong.code, 'invalid_code');
  assert.equal(await client.getToken(), 't1', 'a failed attempt changes nothing');
  await client.attemptVerification(v.id, { strategy: 'totp', code: '123456' });
  assert.deepEqual(changes, [verifiedSession]);
  assert.deepEqual(reasons, ['verified']);
  assert.equal(await client.getToken(), 'fresh');
  assert.equal(f.count(TOKENS), 1, 'the token came with the answer');
});

test("a verification attempt waits for a refresh in flight: the completion's token lands last and stays", async () => {
  const gate = deferred();
  let n = 0;
  const order = [];
  const f = fakeFetch({
    [TOKENS]: () => {
      order.push('mint');
      return ++n === 1
        ? gate.promise.then(() => (order.push('minted'), { jwt: 'minted-before', expires_in: 60 }))
        : { jwt: 'minted-after', expires_in: 60 };
    },
    'POST /v1/sessions/current/verifications/ver_1/attempt': () => {
      order.push('attempt');
      // The approval rides on this token only: a refresh never carries it.
      return {
        verification: { status: 'complete' },
        session,
        token: 'verified',
        jwt: 'verified',
        expires_in: 60,
        approval: { id: 'apr_1', digest: 'd', expires_at: 9e9 },
      };
    },
  });
  const client = new ReverifyClient({ fetch: f });
  const pending = client.getToken();
  await flush();
  const attempt = client.attemptVerification('ver_1', { strategy: 'password', password: 'pw' });
  await flush();
  assert.deepEqual(order, ['mint'], 'the attempt is not sent while the refresh is in flight');
  gate.resolve();
  const done = await attempt;
  assert.equal(done.approval.id, 'apr_1');
  assert.deepEqual(order, ['mint', 'minted', 'attempt']);
  assert.equal(await pending, 'minted-before');
  assert.equal(await client.getToken(), 'verified', "the completion's token, not a refreshed one");
  assert.equal(f.count(TOKENS), 1);
});

test('a refresh asked for during a verification attempt waits for it and answers its token', async () => {
  const gate = deferred();
  const f = fakeFetch({
    [TOKENS]: () => ({ jwt: 'refreshed', expires_in: 60 }),
    'POST /v1/sessions/current/verifications/ver_1/attempt': () =>
      gate.promise.then(() => ({
        verification: { status: 'complete' },
        session,
        token: 'verified',
        jwt: 'verified',
        expires_in: 60,
      })),
  });
  const client = new ReverifyClient({ fetch: f });
  const attempt = client.attemptVerification('ver_1', { strategy: 'totp', code: '123456' });
  await flush();
  const token = client.getToken();
  await flush();
  assert.equal(f.count(TOKENS), 0, 'no refresh while the attempt runs');
  gate.resolve();
  await attempt;
  assert.equal(await token, 'verified');
  assert.equal(f.count(TOKENS), 0);
  // A forced refresh still mints (the caller asked for a new token).
  assert.equal(await client.getToken({ force: true }), 'refreshed');
});

test('a failed attempt lets the waiting refresh mint', async () => {
  const gate = deferred();
  const f = fakeFetch({
    [TOKENS]: () => ({ jwt: 'refreshed', expires_in: 60 }),
    'POST /v1/sessions/current/verifications/ver_1/attempt': () =>
      gate.promise.then(() => json(422, { code: 'invalid_code', message: 'no' })),
  });
  const client = new ReverifyClient({ fetch: f });
  const attempt = client.attemptVerification('ver_1', { strategy: 'totp', code: '000000' });
  const token = client.getToken();
  gate.resolve();
  await assert.rejects(attempt, { code: 'invalid_code' });
  assert.equal(await token, 'refreshed');
});

test('startVerification sends the action when one is given, the level alone otherwise', async () => {
  const f = fakeFetch({ 'POST /v1/sessions/current/verifications': (b) => ({ id: 'ver_1', ...b }) });
  const client = new ReverifyClient({ fetch: f });
  const action = {
    type: 'transfer',
    summary: 'Send €25.00 to Bob',
    fields: { amount_cents: '2500', currency: 'EUR', payee: 'Bob' },
    digest: '3bq1',
  };
  await client.startVerification('multi_factor', action);
  assert.deepEqual(f.calls.at(-1).body, { level: 'multi_factor', action });
  await client.startVerification('second_factor');
  assert.equal(f.calls.at(-1).init.body, '{"level":"second_factor"}');
  await client.startVerification();
  assert.deepEqual(f.calls.at(-1).body, { level: 'second_factor' });
});

test('account calls: paths, bodies, and deleteAccount signs out', async () => {
  const f = fakeFetch({
    'POST /v1/sign_ins': () => ({ status: 'complete', user, session, token: 'x' }),
    'POST /v1/me/password': () => ({ ok: true }),
    'PATCH /v1/me/passkeys/pk_1': (b) => ({ id: 'pk_1', ...b }),
    'DELETE /v1/me': () => new Response(null, { status: 204 }),
  });
  const client = new ReverifyClient({ fetch: f });
  await client.signInWithPassword('a@example.com', 'pw');
  await client.changePassword('new password!', { signOutOtherSessions: false });
  assert.deepEqual(f.calls.at(-1).body, { new_password: 'new password!', sign_out_other_sessions: false });
  await client.changePassword('other password');
  assert.deepEqual(f.calls.at(-1).body, { new_password: 'other password' });
  assert.equal((await client.renamePasskey('pk_1', 'Laptop')).name, 'Laptop');
  assert.equal(await client.deleteAccount(), null);
  assert.equal(client.user, null);
});

/** A client signed in through a password sign-in on `routes` (plus the sign-in route). */
async function signedIn(routes, name = 'POST /v1/sign_ins') {
  const f = fakeFetch({
    [name]: () => ({ status: 'complete', user, session, token: jwt({ iat: 0, exp: 60 }) }),
    ...routes,
  });
  const client = new ReverifyClient({ fetch: f });
  await client.signInWithPassword('a@example.com', 'pw');
  const changes = [];
  client.onChange((s) => changes.push(s));
  return { f, client, changes };
}

test('a token refresh answered 401 signed_out: signed out locally, listeners told session_ended', async () => {
  const { client, changes } = await signedIn({ [TOKENS]: () => json(401, { code: SIGNED_OUT, message: 'gone' }) });
  assert.equal(await client.getToken({ force: true }), null);
  assert.equal(client.user, null);
  assert.deepEqual(changes, [{ user: null, session: null, reason: 'session_ended' }]);
  assert.equal(SIGNED_OUT, 'signed_out');
});

test('any call answered 401 signed_out signs the client out and rejects with that error', async () => {
  for (const [call, route] of [
    [(c) => c.me(), 'GET /v1/me'],
    [(c) => c.startVerification(), 'POST /v1/sessions/current/verifications'],
    [
      (c) => c.attemptVerification('ver_1', { strategy: 'totp', code: '123456' }),
      `POST ${'/v1/sessions/current/verifications/ver_1/attempt'}`,
    ],
  ]) {
    const { f, client, changes } = await signedIn({
      [route]: () => json(401, { code: SIGNED_OUT, message: 'too many wrong attempts: you have been signed out' }),
      [TOKENS]: () => json(401, { code: SIGNED_OUT }),
    });
    const e = await call(client).catch((e) => e);
    assert.ok(e instanceof ReverifyError, route);
    assert.equal(e.code, SIGNED_OUT);
    assert.equal(e.status, 401);
    assert.equal(client.session, null, route);
    assert.deepEqual(changes, [{ user: null, session: null, reason: 'session_ended' }], route);
    // The token went with the session: the next getToken asks the server.
    assert.equal(await client.getToken(), null);
    assert.ok(f.count(TOKENS) >= 1);
  }
  // Another 401 (a wrong password at sign-in) is not about the session.
  const { client, changes } = await signedIn({
    'POST /v1/sessions/current/verifications/ver_1/attempt': () => json(401, { code: 'invalid_credentials' }),
  });
  await client.attemptVerification('ver_1', { strategy: 'password', password: 'x' }).catch(() => {});
  assert.equal(client.user.id, 'usr_1');
  assert.deepEqual(changes, []);
});

test('a 401 for a session that was replaced meanwhile does not sign out the new one', async () => {
  const gate = deferred();
  const other = { ...session, id: 'ses_2' };
  let n = 0;
  const f = fakeFetch({
    'POST /v1/sign_ins': () => ({ status: 'complete', user, session: ++n === 1 ? session : other, token: 'x' }),
    'GET /v1/me': () => gate.promise.then(() => json(401, { code: SIGNED_OUT })),
  });
  const client = new ReverifyClient({ fetch: f });
  await client.signInWithPassword('a@example.com', 'pw');
  const pending = client.me().catch((e) => e);
  await flush();
  await client.signInWithPassword('a@example.com', 'pw');
  gate.resolve();
  assert.equal((await pending).code, SIGNED_OUT);
  assert.equal(client.session.id, 'ses_2');
});

test('signOut tells listeners signed_out, even when the server already ended the session', async () => {
  const { client, changes } = await signedIn({ 'DELETE /v1/sessions/current': () => json(401, { code: SIGNED_OUT }) });
  await client.signOut();
  assert.deepEqual(changes, [{ user: null, session: null, reason: 'signed_out' }]);
});

test('focus and visibility re-check the session while signed in, at most once per 5 s', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const on = {};
  globalThis.document = { hidden: false, addEventListener: (type, fn) => (on[type] = fn) };
  globalThis.window = { addEventListener: (type, fn) => (on[type] = fn) };
  let alive = true;
  const f = fakeFetch({
    [CLIENT]: () => (alive ? { session, user, reverification: {} } : SIGNED_OUT_BODY),
    [TOKENS]: () => ({ jwt: 't', expires_in: 60 }),
  });
  const client = new ReverifyClient({ fetch: f });
  on.focus();
  await flush();
  assert.equal(f.count(CLIENT), 0, 'signed out: nothing to re-check');
  await client.load();
  const reasons = [];
  client.onChange((s) => reasons.push(s.reason));
  on.focus();
  await flush();
  assert.equal(f.count(CLIENT), 1, 'just loaded: throttled');
  mock.timers.tick(5_000);
  on.focus();
  on.visibilitychange();
  on.focus();
  await flush();
  assert.equal(f.count(CLIENT), 2, 'one re-check for a burst of events');
  mock.timers.tick(5_000);
  globalThis.document.hidden = true;
  on.visibilitychange();
  await flush();
  assert.equal(f.count(CLIENT), 2, 'becoming hidden checks nothing');
  alive = false; // signed out in another browser window, revoked, …
  globalThis.document.hidden = false;
  on.visibilitychange();
  await flush();
  assert.equal(f.count(CLIENT), 3);
  assert.equal(client.user, null);
  assert.deepEqual(reasons, ['session_ended']);
  mock.timers.tick(60_000);
  on.focus();
  await flush();
  assert.equal(f.count(CLIENT), 3, 'signed out: no more re-checks');
});

test('a sign-in or sign-out in another tab makes every other client load at once', async () => {
  let signedInNow = false;
  const server = {
    [CLIENT]: () => (signedInNow ? { session, user, reverification: {} } : SIGNED_OUT_BODY),
    'POST /v1/sign_ins': () => ((signedInNow = true), { status: 'complete', user, session, token: 'x' }),
    'DELETE /v1/sessions/current': () => ((signedInNow = false), { status: 'signed_out' }),
  };
  const fa = fakeFetch(server);
  const fb = fakeFetch(server);
  const a = new ReverifyClient({ fetch: fa });
  const b = new ReverifyClient({ fetch: fb });
  const seen = [];
  b.onChange((s) => seen.push([s.user?.id ?? null, s.reason]));
  const arrived = () => new Promise((r) => setTimeout(r, 20));

  await a.signInWithPassword('a@example.com', 'pw');
  await arrived();
  assert.equal(fb.count(CLIENT), 1, 'b loaded');
  assert.equal(fa.count(CLIENT), 0, 'a does not answer itself');
  assert.equal(b.user?.id, 'usr_1');

  await a.signOut();
  await arrived();
  assert.equal(fb.count(CLIENT), 2);
  assert.equal(b.user, null);
  assert.deepEqual(seen, [
    ['usr_1', 'signed_in'],
    [null, 'session_ended'],
  ]);
  assert.equal(fa.count(CLIENT), 0);
});

test('without BroadcastChannel or document the client still works', async () => {
  const saved = globalThis.BroadcastChannel;
  delete globalThis.BroadcastChannel;
  try {
    const { client, changes } = await signedIn({ 'DELETE /v1/sessions/current': () => ({ status: 'signed_out' }) });
    await client.signOut();
    assert.deepEqual(changes, [{ user: null, session: null, reason: 'signed_out' }]);
  } finally {
    globalThis.BroadcastChannel = saved;
  }
});
