// End-to-end: the OpenID provider's hosted page in headless Chromium (issue 13). A
// relying party's authorization request without a session shows <reverify-sign-in>; signed
// in, the browser comes back with a code. Later the app demands max_age=1: the same session
// reverifies in the modal (no new sign-in) and the new ID token's auth_time is that
// verification's, with the same sid.
//
// Needs the server binary (cargo build -p reverify-server --bin reverify; REVERIFY_BIN to
// use another) and /usr/bin/chromium (CHROMIUM to use another).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { launchChromium } from '../test/harness/chromium.js';
import { sleep, startProvider } from './support.mjs';

const PASSWORD = 'correct horse battery staple';
const RP = 'http://127.0.0.1:65530/cb'; // nothing listens there: the test reads the request
let provider, base, context, page;
const problems = [];

before(async () => {
  provider = await startProvider({
    name: 'oidc-e2e',
    toml: `[[oidc.clients]]\nclient_id = "spa"\nredirect_uris = ["${RP}"]\nfirst_party = true\n`,
    users: [{ email: 'ana@example.com', password: PASSWORD }],
  });
  base = provider.base;
  context = await launchChromium(join(provider.work, 'profile'), {
    args: ['--host-resolver-rules=MAP localhost 127.0.0.1'],
  });
  page = context.pages()[0] || (await context.newPage());
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
});

after(async () => {
  await context?.close().catch(() => {});
  provider?.stop();
});

const b64url = (buf) => buf.toString('base64url');

/** Sends the browser to an authorization request; resolves with the RP's callback URL. */
async function authorize(extra, act) {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const url = new URL(base + '/oauth/authorize');
  for (const [k, v] of Object.entries({
    client_id: 'spa',
    redirect_uri: RP,
    response_type: 'code',
    scope: 'openid email',
    state: 'st-' + randomBytes(4).toString('hex'),
    nonce: 'n-1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  }))
    url.searchParams.set(k, v);
  // The app's callback is not served: the request the browser makes to it is the answer
  // (the navigation then fails, which is fine).
  const callback = page.waitForRequest((r) => r.url().startsWith(RP), { timeout: 15_000 });
  await page.goto(url.toString()).catch(() => {});
  await act();
  const back = new URL((await callback.catch(() => null))?.url() ?? 'about:blank');
  assert.equal(
    back.origin + back.pathname,
    RP,
    `the browser came back to the app (at ${page.url()}: ${problems.join('; ')})`,
  );
  assert.equal(back.searchParams.get('state'), url.searchParams.get('state'));
  assert.equal(back.searchParams.get('iss'), base);
  const r = await fetch(base + '/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: 'spa',
      code: back.searchParams.get('code'),
      redirect_uri: RP,
      code_verifier: verifier,
    }),
  });
  assert.equal(r.status, 200);
  const tokens = await r.json();
  return JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url'));
}

test('sign in on the hosted page, then reverify in place for max_age', async () => {
  const first = await authorize({}, async () => {
    await page.locator('reverify-sign-in input[name=email]').fill('ana@example.com');
    await page.locator('reverify-sign-in input[name=password]').fill(PASSWORD);
    await page.locator('reverify-sign-in button[data-action=submit]').click();
  });
  assert.equal(first.aud, 'spa');
  assert.equal(first.acr, 'urn:reverify:acr:1fa');
  assert.deepEqual(first.amr, ['pwd']);

  // Fresh enough: straight back, nothing asked.
  const again = await authorize({ max_age: '60' }, async () => {});
  assert.equal(again.auth_time, first.auth_time);

  await sleep(2100);
  const stepped = await authorize({ max_age: '1' }, async () => {
    const password = page.locator('reverify-verification-modal dialog[open] input[name=password]');
    await password.waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(await page.locator('reverify-sign-in').count(), 0, 'no new sign-in');
    await password.fill(PASSWORD);
    await page.locator('reverify-verification-modal dialog[open] button[data-action=submit]').click();
  });
  assert.equal(stepped.sid, first.sid, 'the same session');
  assert.ok(stepped.auth_time >= first.auth_time + 2, `${stepped.auth_time} vs ${first.auth_time}`);
});
