// End to end: this Next.js app (built with `next build`, served by `next start`) and a
// Reverify server (the `reverify` binary, SQLite, dev outbox) as two processes; the
// browser reaches Reverify through the app's /auth rewrite. Headless Chromium, phone-sized:
// sign up with the emailed code; the user sets up an authenticator app from another device,
// which leaves this browser's session without a second-factor verification, so `strict`
// no longer holds (the server records it as never verified in this session: no waiting,
// no clock moved); Transfer → the route's 403 → the verification modal → the TOTP code →
// exactly one retry → 200 'success'. Then: a cross-site POST carrying the cookie is refused,
// and a request with no token gets the handler's 403.
//
// Needs the server binary (cargo build -p reverify-server; REVERIFY_SERVER_BIN to use
// another), this example's dependencies (npm ci), js/'s (playwright-core) and Chromium
// (/usr/bin/chromium, or CHROMIUM). Screenshots: target/e2e-screenshots/nextjs/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchChromium } from '../../../js/test/harness/chromium.js';
import { sleep, totp } from '../../../js/e2e/support.mjs';

const app = fileURLToPath(new URL('..', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));
const SERVER_BIN = process.env.REVERIFY_SERVER_BIN || join(root, 'target', 'debug', 'reverify');
const NEXT_BIN = createRequire(join(app, 'package.json')).resolve('next/dist/bin/next');
const SHOTS = join(root, 'target', 'e2e-screenshots', 'nextjs');
const EMAIL = 'grace@example.com';
const PASSWORD = 'correct horse battery staple';
const PHONE = { width: 390, height: 844 };

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Resolves when `url` answers 2xx; rejects after `ms`, or at once when `child` exits. */
async function waitFor(url, child, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: the process exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${ms} ms`);
    await sleep(100);
  }
}

/** Runs a command to its end; rejects with its output when it fails. */
function run(command, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`${args.join(' ')}: ${code}\n${output}`)),
    );
  });
}

// Only what each process needs: the Reverify server refuses REVERIFY_* variables it does
// not know (such as the app's REVERIFY_ISSUER), so neither inherits the caller's.
const baseEnv = () => Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REVERIFY_')));

let work, server, next, context, page, other;
let appOrigin, serverUrl, otherOrigin;
let nextLog = '';
let secret;
let lastStep = 0;
const transferRequests = []; // the browser's requests to /api/transfer, in order

/** The POSTs the transfer route received, as the app's proxy logged them. */
const routePosts = () => nextLog.split('\n').filter((l) => l.trim() === 'transfer-route POST /api/transfer').length;

let shot = 0;
const screenshot = (name) =>
  page.screenshot({ path: join(SHOTS, `${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: true });

/** A TOTP code of a step the server has not seen (±1 step is accepted; never reused). */
async function nextCode() {
  for (;;) {
    const current = Math.floor(Date.now() / 30000);
    const step = Math.max(lastStep + 1, current - 1);
    if (step <= current + 1) {
      lastStep = step;
      return totp(secret, step);
    }
    await sleep(30000 - (Date.now() % 30000) + 50);
  }
}

async function outboxCode(email) {
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${serverUrl}/v1/dev/outbox?email=${encodeURIComponent(email)}`);
    const m = (await r.json()).messages?.[0];
    if (m?.code) return m.code;
    await sleep(50);
  }
  throw new Error(`no code for ${email}`);
}

/** The JSON document the page shows (Chromium renders it in a <pre>). */
const shownJson = () => page.evaluate(() => JSON.parse((document.querySelector('pre') ?? document.body).textContent));

/** The claims of the browser's `__session` token (or null). */
async function sessionClaims() {
  const cookie = (await context.cookies(appOrigin)).find((c) => c.name === '__session');
  return cookie ? JSON.parse(Buffer.from(cookie.value.split('.')[1], 'base64url')) : null;
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'reverify-nextjs-'));
  const [serverPort, appPort, otherPort] = [await freePort(), await freePort(), await freePort()];
  serverUrl = `http://127.0.0.1:${serverPort}`;
  appOrigin = `http://localhost:${appPort}`;
  otherOrigin = `http://localhost:${otherPort}`;

  // Reverify: its public URL is where the browser reaches it (the app's /auth); tokens
  // carry it as `iss`. Plain HTTP on localhost: insecure cookies; codes in the dev outbox.
  server = spawn(SERVER_BIN, ['serve'], {
    env: {
      ...baseEnv(),
      REVERIFY_SERVER_LISTEN: `127.0.0.1:${serverPort}`,
      REVERIFY_SERVER_PUBLIC_URL: `${appOrigin}/auth`,
      REVERIFY_DATABASE_URL: `sqlite://${join(work, 'reverify.sqlite')}`,
      REVERIFY_SESSIONS_INSECURE_COOKIES: 'true',
      REVERIFY_PASSWORDS_ARGON2_MEMORY_KIB: '1024',
      REVERIFY_PASSWORDS_ARGON2_ITERATIONS: '1',
      REVERIFY_LOG: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  // The app, built for this server (rewrites are fixed at build time), then started.
  const appEnv = { ...baseEnv(), NEXT_TELEMETRY_DISABLED: '1', AUTH_SERVER_URL: serverUrl };
  await Promise.all([
    waitFor(`${serverUrl}/healthz`, server, 30_000),
    run(process.execPath, [NEXT_BIN, 'build'], { cwd: app, env: appEnv }),
  ]);
  next = spawn(process.execPath, [NEXT_BIN, 'start', '--port', String(appPort), '--hostname', '127.0.0.1'], {
    cwd: app,
    env: {
      ...appEnv,
      REVERIFY_ISSUER: `${appOrigin}/auth`,
      // Straight to the server, not through the app's own rewrite.
      REVERIFY_JWKS_URL: `${serverUrl}/.well-known/jwks.json`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  next.stdout.on('data', (d) => (nextLog += d));
  next.stderr.on('data', (d) => process.stderr.write(d));
  await waitFor(`http://127.0.0.1:${appPort}/`, next, 60_000);

  // Another origin of the same site (another port on localhost): the browser sends the
  // SameSite=Lax cookies along with its POSTs, so only the origin check can refuse them.
  other = createServer((req, res) => {
    const target = new URL(req.url, otherOrigin).searchParams.get('to');
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><form method="post" action="${appOrigin}${target}"></form>
      <script>document.forms[0].submit()</script>`);
  });
  await new Promise((resolve) => other.listen(otherPort, '127.0.0.1', resolve));

  context = await launchChromium(join(work, 'profile'), {
    args: ['--host-resolver-rules=MAP localhost 127.0.0.1'],
    viewport: PHONE,
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  });
  page = context.pages()[0] || (await context.newPage());
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/transfer') transferRequests.push(r);
  });
  page.on('pageerror', (e) => console.error('page error:', e));
  page.on('console', (m) => m.type() === 'error' && console.error('console:', m.text()));
});

after(async () => {
  await context?.close().catch(() => {});
  other?.close();
  next?.kill();
  server?.kill();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('sign up in the browser with the emailed code (Reverify through the /auth rewrite)', async () => {
  await page.goto(appOrigin);
  await page.locator('summary', { hasText: 'No account yet' }).click();
  const signUp = page.locator('reverify-sign-up');
  await signUp.locator('input[name=email]').fill(EMAIL);
  await signUp.locator('input[name=password]').fill(PASSWORD);
  await screenshot('sign-up');
  await signUp.locator('[data-action=submit]').click();
  await signUp.locator('input[name=code]').fill(await outboxCode(EMAIL));
  await page.locator('#who', { hasText: EMAIL }).waitFor();
  await page.locator('#transfer').waitFor();
  // The page keeps a token in the `__session` cookie, on the app's origin.
  for (let i = 0; !(await sessionClaims()) && i < 100; i++) await sleep(50);
  const claims = await sessionClaims();
  assert.equal(claims.iss, `${appOrigin}/auth`);
  assert.equal(claims.fvt[1], -1, 'no second factor yet');
  // The page asks a server action, which reads the same auth object: a fresh sign-in
  // satisfies `strict` for a user without a second factor.
  await page.locator('#strict', { hasText: 'Verified in the last 10 minutes' }).waitFor();
  await screenshot('signed-in');
});

test('an authenticator app set up on another device: this session has not verified it, strict no longer holds', async () => {
  // The other device: a password sign-in and the TOTP enrolment, straight to the server.
  let cookie = '';
  const call = async (method, path, body) => {
    const r = await fetch(`${serverUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', cookie },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const set = r.headers.getSetCookie().map((c) => c.split(';')[0]);
    if (set.length) cookie = [...cookie.split('; ').filter(Boolean), ...set].join('; ');
    const json = await r.json();
    assert.ok(r.ok, `${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };
  assert.equal((await call('POST', '/v1/sign_ins', { email: EMAIL, password: PASSWORD })).status, 'complete');
  secret = (await call('POST', '/v1/me/totp', {})).secret.replace(/\s/g, '');
  await call('POST', '/v1/me/totp/confirm', { code: await nextCode() });

  // Back on the phone, later: the page loads and mints a token for its session.
  await page.reload();
  await page.locator('#transfer').waitFor();
  for (let i = 0; (await sessionClaims())?.fvt[1] !== 0 && i < 100; i++) await sleep(50);
  assert.equal((await sessionClaims()).fvt[1], 0, 'a second factor exists, never verified in this session');
  const seen = await page.evaluate(() => fetch('/api/session').then((r) => r.json()));
  assert.deepEqual(seen, { isAuthenticated: true, userId: seen.userId, error: null, strict: false });
  await page.locator('#strict', { hasText: 'Transfers will ask you to verify' }).waitFor();
});

test("Transfer: the route's 403, the modal, the TOTP code, exactly one retry, 200 'success'", async () => {
  transferRequests.length = 0;
  const postsBefore = routePosts();
  const code = await nextCode();
  await page.locator('#transfer').click();
  const modal = page.locator('reverify-verification-modal dialog[open]');
  await modal.waitFor();
  assert.equal(transferRequests.length, 1, 'the modal opened after the first request');
  const first = await transferRequests[0].response();
  assert.equal(first.status(), 403);
  assert.deepEqual(await first.json(), {
    clerk_error: { type: 'forbidden', reason: 'reverification-error', metadata: { reverification: 'strict' } },
  });
  await screenshot('modal');
  await modal.locator('input[name=code]').fill(code); // six digits submit by themselves
  await page.locator('#status', { hasText: 'Transfer: success' }).waitFor();
  await screenshot('transfer-done');
  assert.equal(await modal.count(), 0, 'the modal closed');
  assert.equal(transferRequests.length, 2, 'the first request and exactly one retry');
  const retry = await transferRequests[1].response();
  assert.equal(retry.status(), 200);
  assert.equal(await retry.text(), 'success');
  // The server side agrees: the route received exactly two POSTs.
  for (let i = 0; routePosts() - postsBefore < 2 && i < 40; i++) await sleep(50);
  await sleep(200);
  assert.equal(routePosts() - postsBefore, 2, `the route's log:\n${nextLog}`);
  const claims = await sessionClaims();
  assert.ok(Math.abs(claims.fvt[1] - Date.now() / 1000) < 60, 'the second factor was just verified');
  await page.locator('#strict', { hasText: 'Verified in the last 10 minutes' }).waitFor();
});

test('a cross-site POST carrying the cookie is refused by auth(); the same POST from the app passes', async () => {
  // From the app's own page: the session is fresh now.
  const own = await page.evaluate(() =>
    fetch('/api/transfer', { method: 'POST' }).then(async (r) => [r.status, await r.text()]),
  );
  assert.deepEqual(own, [200, 'success']);

  // From another origin of the same site: a form that posts itself to the app.
  const postsBefore = routePosts();
  const crossSite = [];
  const watch = (r) => {
    if (r.url().startsWith(appOrigin) && r.method() === 'POST') crossSite.push(r.allHeaders());
  };
  page.on('request', watch);
  await page.goto(`${otherOrigin}/?to=/api/session`);
  await page.waitForURL(`${appOrigin}/api/session`);
  const seen = await shownJson();
  assert.deepEqual(seen, { isAuthenticated: false, userId: null, error: 'cross_site_request', strict: false });

  await page.goto(`${otherOrigin}/?to=/api/transfer`);
  await page.waitForURL(`${appOrigin}/api/transfer`);
  const refused = await shownJson();
  assert.equal(refused.clerk_error.reason, 'reverification-error', 'no transfer: the handler saw no session');
  page.off('request', watch);
  await screenshot('cross-site-refused');

  // The browser did send the session cookie with both: only the origin check refused them.
  assert.equal(crossSite.length, 2);
  for (const headers of await Promise.all(crossSite)) {
    assert.equal(headers.origin, otherOrigin);
    assert.match(headers.cookie ?? '', /(^|; )__session=ey/);
  }
  for (let i = 0; routePosts() - postsBefore < 1 && i < 40; i++) await sleep(50);
  assert.equal(routePosts() - postsBefore, 1, 'the refused POST reached the route, which answered 403');
});

test('no token: auth() is signed out (token_missing), has() is false, so the handler answers the 403', async () => {
  const r = await fetch(`${appOrigin.replace('localhost', '127.0.0.1')}/api/transfer`, { method: 'POST' });
  assert.equal(r.status, 403);
  assert.match(r.headers.get('www-authenticate'), /insufficient_user_authentication/);
  assert.equal((await r.json()).clerk_error.metadata.reverification, 'strict');
  const s = await fetch(`${appOrigin.replace('localhost', '127.0.0.1')}/api/session`);
  assert.deepEqual(await s.json(), { isAuthenticated: false, userId: null, error: 'token_missing', strict: false });
});
