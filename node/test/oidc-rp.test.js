// Reverify's OpenID provider driven by openid-client (v6, on oauth4webapi), a relying-party
// library no one here wrote, against the real `reverify` binary: discovery, code + PKCE,
// the ID token's checks (signature, iss, aud, nonce, max_age), userinfo, refresh with
// rotation, introspection, revocation, and step-up: max_age, prompt=login, acr_values and
// an essential acr in the claims parameter, each reverified in the same session.
//
// The "browser" is fetch with a cookie jar: it signs in through the API, follows
// /oauth/authorize, and where the provider's page would open the reverification modal it
// drives the same API the modal does.
//
// Needs the server binary (cargo build -p reverify-server --bin reverify; REVERIFY_BIN to
// use another). Without it the test is skipped loudly, and fails in CI (CI=true).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as client from 'openid-client';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = process.env.REVERIFY_BIN || join(root, 'target', 'debug', 'reverify');
const PASSWORD = 'correct horse battery staple';
const SECRET = 'openid-client-secret-0123456789-ABCDEFGH';
const RP = 'http://127.0.0.1:65530/callback'; // never fetched: the test reads the redirect
const MFA = 'urn:reverify:acr:mfa';
const EMAIL = 'oc@example.com';

const missing = !existsSync(BIN);
if (missing && process.env.CI === 'true') {
  throw new Error(`CI must run the openid-client test: ${BIN} is missing (cargo build -p reverify-server)`);
}
if (missing) {
  console.error(`\n*** SKIPPING the openid-client test: ${BIN} is missing (cargo build -p reverify-server) ***\n`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let work, server, base, config;

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

before(async () => {
  if (missing) return;
  work = mkdtempSync(join(tmpdir(), 'reverify-openid-client-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const file = join(work, 'reverify.toml');
  writeFileSync(
    file,
    `[server]\nlisten = "127.0.0.1:${port}"\npublic_url = "${base}"\n` +
      `[database]\nurl = "sqlite://${join(work, 'db.sqlite')}"\n` +
      `[sessions]\ninsecure_cookies = true\n` +
      `[passwords]\nargon2_memory_kib = 1024\nargon2_iterations = 1\n` +
      `[oidc]\nenabled = true\n` +
      `[[oidc.clients]]\nclient_id = "app"\nclient_secret = "${SECRET}"\n` +
      `redirect_uris = ["${RP}"]\nfirst_party = true\n`,
  );
  const env = { ...process.env, REVERIFY_LOG: 'warn' };
  execFileSync(BIN, ['--config', file, 'users', 'create', '--email', EMAIL], {
    env: { ...env, REVERIFY_NEW_PASSWORD: PASSWORD },
  });
  server = spawn(BIN, ['--config', file, 'serve'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    if (i > 300) throw new Error('the server did not start');
    await sleep(100);
  }
  // Discovery, as an app configured with the issuer URL does. http on loopback only
  // because this is a test: openid-client refuses it otherwise.
  config = await client.discovery(new URL(base), 'app', SECRET, client.ClientSecretBasic(), {
    execute: [client.allowInsecureRequests],
  });
});

after(() => {
  server?.kill();
  if (work) rmSync(work, { recursive: true, force: true });
});

// ---- The browser and the user ------------------------------------------------------------

/** A cookie jar over fetch; redirects are returned, not followed. */
class Browser {
  cookies = new Map();
  async fetch(url, init = {}) {
    const headers = new Headers(init.headers);
    if (this.cookies.size) {
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const r = await fetch(new URL(url, base), { ...init, headers, redirect: 'manual' });
    for (const line of r.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return r;
  }
  async post(path, body) {
    const r = await this.fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: r.status, body: await r.json() };
  }
}

const attr = (html, name) => (html.split(`${name}="`)[1] ?? '').split('"')[0].replaceAll('&amp;', '&');

/** Where the browser lands: back at the app (the callback URL), or the provider's page. */
async function visit(b, url) {
  const r = await b.fetch(url);
  if (r.status === 302 || r.status === 303) {
    const location = new URL(r.headers.get('location'));
    assert.equal(location.origin + location.pathname, RP);
    return { app: location };
  }
  assert.equal(r.status, 200, `unexpected ${r.status}`);
  const html = await r.text();
  return { need: attr(html, 'data-need'), level: attr(html, 'data-level'), continueUrl: attr(html, 'data-continue') };
}

function base32(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of secret.replace(/=+$/, '')) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** An authenticator app: RFC 6238 codes; never the same time step twice. */
class Authenticator {
  lastStep = -Infinity;
  constructor(secret) {
    this.key = base32(secret);
  }
  async code() {
    // The server accepts the current step ±1 and each step once.
    let step = Math.max(this.lastStep + 1, Math.floor(Date.now() / 30_000) - 1);
    while (step > Math.floor(Date.now() / 30_000) + 1) await sleep(1000);
    this.lastStep = step;
    const counter = Buffer.alloc(8);
    counter.writeBigInt64BE(BigInt(step));
    const mac = createHmac('sha1', this.key).update(counter).digest();
    const offset = mac[mac.length - 1] & 0x0f;
    return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
  }
}

/** The user completes a verification in the current session, as the modal does. */
async function reverify(b, level, authenticator) {
  const { status, body: v } = await b.post('/v1/sessions/current/verifications', { level });
  assert.equal(status, 200, JSON.stringify(v));
  let state = v.status;
  for (let i = 0; i < 3 && state !== 'complete'; i++) {
    const factor =
      state === 'needs_second_factor'
        ? { strategy: 'totp', code: await authenticator.code() }
        : { strategy: 'password', password: PASSWORD };
    const { status, body } = await b.post(`/v1/sessions/current/verifications/${v.id}/attempt`, factor);
    assert.equal(status, 200, JSON.stringify(body));
    state = body.verification?.status ?? body.status;
  }
  assert.equal(state, 'complete');
}

// ---- The app (openid-client) ---------------------------------------------------------------

/** Starts an authorization request the way an app does; returns the URL and its checks. */
async function start(params = {}) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: RP,
    scope: 'openid email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: expectedState,
    nonce: expectedNonce,
    ...params,
  });
  return { url, checks: { pkceCodeVerifier, expectedState, expectedNonce } };
}

/** The callback: openid-client checks state, iss, the code exchange and the ID token. */
const finish = (callback, checks, extra = {}) =>
  client.authorizationCodeGrant(config, callback, { ...checks, idTokenExpected: true, ...extra });

/** Follows a request the provider's page waits on: the user reverifies, then continues. */
async function withReverification(b, url, expectNeed, expectLevel, authenticator) {
  const page = await visit(b, url);
  assert.deepEqual([page.need, page.level], [expectNeed, expectLevel], JSON.stringify(page));
  assert.ok(!(await visit(b, page.continueUrl)).app, 'not before the user reverified');
  await reverify(b, page.level, authenticator);
  const back = await visit(b, page.continueUrl);
  assert.ok(back.app, 'back at the app');
  return back.app;
}

test(
  'openid-client: discovery, code + PKCE, refresh, introspection, revocation, step-up',
  { skip: missing },
  async (t) => {
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, base);
    assert.ok(meta.code_challenge_methods_supported.includes('S256'));
    assert.ok(meta.acr_values_supported.includes(MFA));
    assert.equal(meta.claims_parameter_supported, true);

    // The app's browser signs in with the password; the user's authenticator app is enrolled
    // in another session, so this one has a first factor only (acr 1fa) until it steps up.
    const b = new Browser();
    const signIn = await b.post('/v1/sign_ins', { email: EMAIL, password: PASSWORD });
    assert.equal(signIn.body.status, 'complete', JSON.stringify(signIn.body));
    const phone = new Browser();
    assert.equal((await phone.post('/v1/sign_ins', { email: EMAIL, password: PASSWORD })).status, 200);
    const enroll = await phone.post('/v1/me/totp', {});
    assert.equal(enroll.status, 200, JSON.stringify(enroll.body));
    const authenticator = new Authenticator(enroll.body.secret);
    const confirm = await phone.post('/v1/me/totp/confirm', { code: await authenticator.code() });
    assert.equal(confirm.status, 200, JSON.stringify(confirm.body));

    let first;
    await t.test('code + PKCE, the ID token, userinfo', async () => {
      const { url, checks } = await start();
      const { app } = await visit(b, url);
      const tokens = await finish(app, checks, { maxAge: 300 });
      first = tokens.claims();
      assert.equal(first.iss, base);
      assert.equal(first.aud, 'app');
      assert.equal(first.email, EMAIL);
      assert.equal(first.acr, 'urn:reverify:acr:1fa');
      assert.ok(Number.isInteger(first.auth_time) && first.auth_time <= Math.ceil(Date.now() / 1000));
      assert.ok(first.sid);
      const info = await client.fetchUserInfo(config, tokens.access_token, first.sub);
      assert.equal(info.sub, first.sub);
      assert.equal(info.email, EMAIL);

      // A wrong nonce, state or verifier: refused by the library or the provider.
      const other = await start();
      const { app: back } = await visit(b, other.url);
      await assert.rejects(finish(back, { ...other.checks, expectedNonce: 'other' }));
    });

    await t.test('refresh (rotation), introspection, revocation', async () => {
      const { url, checks } = await start();
      const { app } = await visit(b, url);
      const tokens = await finish(app, checks);
      const seen = await client.tokenIntrospection(config, tokens.access_token);
      assert.equal(seen.active, true);
      assert.equal(seen.client_id, 'app');
      assert.equal(seen.sub, first.sub);

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
      assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token);
      if (refreshed.id_token) assert.equal(refreshed.claims().auth_time, tokens.claims().auth_time);

      await client.tokenRevocation(config, refreshed.access_token);
      assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).active, false);
      await client.tokenRevocation(config, refreshed.refresh_token);
      await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token), (e) => {
        assert.ok(e instanceof client.ResponseBodyError, String(e));
        assert.equal(e.error, 'invalid_grant');
        return true;
      });
      // The rotated-out one: invalid_grant too.
      await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === 'invalid_grant');
    });

    let reverifiedAt;
    await t.test('max_age: the page waits, the user reverifies in place', async () => {
      await sleep(2100);
      const { url, checks } = await start({ max_age: '1' });
      const app = await withReverification(b, url, 'reverify', 'first_factor', authenticator);
      const claims = (await finish(app, checks, { maxAge: 1 })).claims();
      assert.equal(claims.sid, first.sid, 'the same session');
      assert.ok(claims.auth_time >= first.auth_time + 2, `${claims.auth_time} vs ${first.auth_time}`);
      reverifiedAt = claims.auth_time;
    });

    await t.test('prompt=login: a new verification', async () => {
      await sleep(1100);
      const { url, checks } = await start({ prompt: 'login' });
      const app = await withReverification(b, url, 'reverify', 'first_factor', authenticator);
      const claims = (await finish(app, checks)).claims();
      assert.equal(claims.sid, first.sid);
      assert.ok(claims.auth_time > reverifiedAt, `${claims.auth_time} vs ${reverifiedAt}`);
    });

    await t.test('acr_values: the missing second factor only, in the same session', async () => {
      const { url, checks } = await start({ acr_values: MFA });
      const app = await withReverification(b, url, 'step_up', 'second_factor', authenticator);
      const claims = (await finish(app, checks)).claims();
      assert.equal(claims.acr, MFA);
      assert.ok(claims.amr.includes('otp'), JSON.stringify(claims.amr));
      assert.equal(claims.sid, first.sid);
    });

    await t.test('claims parameter: an essential acr', async () => {
      const mfa = await start({ claims: JSON.stringify({ id_token: { acr: { essential: true, values: [MFA] } } }) });
      const { app } = await visit(b, mfa.url);
      assert.ok(app, 'met already: straight back');
      assert.equal((await finish(app, mfa.checks)).claims().acr, MFA);

      // Beyond any factor this user has (no passkey): the library surfaces the error.
      const phr = await start({ claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['phr'] } } }) });
      const { app: refused } = await visit(b, phr.url);
      await assert.rejects(finish(refused, phr.checks), (e) => {
        assert.ok(e instanceof client.AuthorizationResponseError, String(e));
        assert.equal(e.error, 'unmet_authentication_requirements');
        return true;
      });
    });
  },
);
