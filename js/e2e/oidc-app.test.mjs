// End-to-end: a third-party app (examples/oidc-app, its own process and origin) signs a
// user in through Reverify's OpenID provider, then asks for a fresh verification (max_age)
// and a stronger one (acr_values=phr) before its sensitive actions. Headless Chromium at a
// phone's size. The user verifies in Reverify's modal, in the session they already have
// (the same sid, no second sign-in, one Reverify session): with an authenticator app code,
// then with a passkey (a CDP virtual authenticator with user verification).
//
// The app is run with MAX_AGE=3 (its setting; 60 by default) and the test waits 4 s
// twice: the server's clock is the system's (no test backdoor in the binary).
//
// Needs the server binary (cargo build -p reverify-server --bin reverify; REVERIFY_BIN to
// use another) and /usr/bin/chromium (CHROMIUM to use another). Screenshots of the hosted
// page's modal (phone and 320 px, light and dark): docs/gallery/oidc-*.png, and every step
// in target/e2e-screenshots/oidc-app/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { launchChromium } from '../test/harness/chromium.js';
import { freePort, root, sleep, startProvider, totp, waitFor, SHOTS as ALL_SHOTS } from './support.mjs';

const APP = join(root, 'examples', 'oidc-app', 'server.mjs');
const SHOTS = join(ALL_SHOTS, 'oidc-app');
const GALLERY = join(root, 'docs', 'gallery');
const EMAIL = 'ana@example.com';
const PASSWORD = 'correct horse battery staple';
const MAX_AGE = 3;
const PHONE = { width: 390, height: 844 };

let provider, app, base, appUrl, context, page, secret;
// A blank page of Reverify's origin where the test runs the browser SDK as the user's own
// account page would (the server serves no HTML page of its own but the provider's; its
// API answers carry a CSP that loads nothing). Only this page is made up: every request
// from it goes to the real server.
let ACCOUNT;
let lastStep = 0;
const problems = [];
let authorizeRequests = 0; // the browser's authorization requests to Reverify

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

let shot = 0;
const screenshot = (name) =>
  page.screenshot({ path: join(SHOTS, `${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: true });

/** The hosted page with its modal open, at the phone's width and at 320 px, light and dark. */
async function gallery(name) {
  for (const [size, width] of [
    ['phone', PHONE.width],
    ['320', 320],
  ])
    for (const scheme of ['light', 'dark']) {
      await page.setViewportSize({ width, height: PHONE.height });
      await page.emulateMedia({ colorScheme: scheme });
      await sleep(100);
      const sideways = await page.evaluate(() => document.documentElement.scrollWidth > innerWidth);
      assert.equal(sideways, false, `no sideways scrolling at ${width} px`);
      await page.screenshot({ path: join(GALLERY, `oidc-${name}-${size}-${scheme}.png`), animations: 'disabled' });
    }
  await page.setViewportSize(PHONE);
  await page.emulateMedia({ colorScheme: 'light' });
}

/** What the app shows about its signed-in user (its copy of the ID token's claims). */
async function appClaims() {
  await page.waitForURL(appUrl + '/');
  const claims = {};
  for (const dd of await page.locator('dd[data-claim]').all())
    claims[await dd.getAttribute('data-claim')] = (await dd.textContent()).trim();
  return { ...claims, auth_time: Number(claims.auth_time), log: await page.locator('[data-log] li').allTextContents() };
}

/** Runs `f` in a page of Reverify's origin with the browser SDK's client (the user's cookies). */
async function asUser(f, arg) {
  const tab = await context.newPage();
  try {
    await tab.goto(ACCOUNT);
    return await tab.evaluate(
      async ([source, arg]) => {
        const { ReverifyClient } = await import('/sdk/index.js');
        const client = new ReverifyClient({ baseUrl: location.origin });
        await client.load();
        return new Function('client', 'arg', `return (${source})(client, arg)`)(client, arg);
      },
      [f.toString(), arg],
    );
  } finally {
    await tab.close();
  }
}

const modal = () => page.locator('reverify-verification-modal dialog[open]');

/** Clicks one of the app's buttons; expects Reverify's modal (not a sign-in form). */
async function clickAndExpectModal(label) {
  const asked = authorizeRequests;
  await page.getByRole('button', { name: label }).click();
  await modal().waitFor({ timeout: 15_000 });
  assert.equal(authorizeRequests, asked + 1, 'one authorization request');
  assert.ok(page.url().startsWith(base + '/oauth/authorize'), page.url());
  assert.equal(await page.locator('reverify-sign-in').count(), 0, 'no new sign-in');
}

/** Switches the open modal to the passkey (it may still be loading or re-rendering). */
async function usePasskey() {
  const button = modal().locator('[data-action=passkey]');
  for (let i = 0; !(await button.isVisible()); i++) {
    assert.ok(i < 50, 'the modal offers the passkey');
    await modal()
      .locator('[data-strategy=passkey]')
      .click({ timeout: 200 })
      .catch(() => {});
    await sleep(100);
  }
  return button;
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  mkdirSync(GALLERY, { recursive: true });
  provider = await startProvider({ name: 'oidc-app', users: [{ email: EMAIL, password: PASSWORD }] });
  const { env, cli } = provider;
  const appPort = await freePort();
  // Two sites: Reverify on localhost, the app on 127.0.0.1 (cookies never shared).
  base = provider.base;
  appUrl = `http://127.0.0.1:${appPort}`;
  // Registered as the app's README says (first party: no consent screen).
  const [clientId, clientSecret] = cli(
    'oidc',
    'clients',
    'add',
    '--name',
    'Example app',
    '--redirect-uri',
    `${appUrl}/callback`,
    '--first-party',
  )
    .trim()
    .split('\n');
  assert.ok(clientId && clientSecret, 'the CLI printed the id and the secret');

  app = spawn(process.execPath, [APP], {
    env: {
      ...env,
      ISSUER: base,
      CLIENT_ID: clientId,
      CLIENT_SECRET: clientSecret,
      PORT: String(appPort),
      MAX_AGE: String(MAX_AGE),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitFor(appUrl + '/', app);

  context = await launchChromium(join(provider.work, 'profile'), {
    args: ['--host-resolver-rules=MAP localhost 127.0.0.1'],
    viewport: PHONE,
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  });
  ACCOUNT = `${base}/test-account-page`;
  await context.route(ACCOUNT, (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><meta charset="utf-8"><title>Account</title>' }),
  );
  page = context.pages()[0] || (await context.newPage());
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('request', (r) => r.url().startsWith(base + '/oauth/authorize?') && authorizeRequests++);
});

after(async () => {
  await context?.close().catch(() => {});
  app?.kill();
  provider?.stop();
});

let signedIn; // the app's claims after the sign-in

test('the app signs the user in through the hosted page', async () => {
  await page.goto(appUrl);
  await page.locator('[data-action=login]').click();
  const form = page.locator('reverify-sign-in');
  await form.locator('input[name=email]').fill(EMAIL);
  await form.locator('input[name=password]').fill(PASSWORD);
  await screenshot('sign-in');
  await form.locator('button[data-action=submit]').click();
  signedIn = await appClaims();
  await screenshot('signed-in');
  assert.equal(await page.locator('strong[data-claim=email]').textContent(), EMAIL);
  assert.equal(signedIn.acr, 'urn:reverify:acr:1fa');
  assert.equal(signedIn.amr, 'pwd');
  assert.match(signedIn.sid, /./);
  assert.ok(Math.abs(signedIn.auth_time - Date.now() / 1000) < 30);
  assert.deepEqual(problems, []);
});

test('max_age: a stale session is asked for its authenticator app code, in the same session', async () => {
  // The user sets up an authenticator app in their Reverify account (the enrolment counts
  // as a second-factor verification of this session: it is at `mfa` from now on).
  const started = await asUser((client) => client.startTotp());
  secret = started.secret;
  const confirmed = await asUser((client, code) => client.confirmTotp(code), await nextCode());
  assert.equal(confirmed.backup_codes.length, 10);

  // Fresh enough: the action runs at once, no trip to Reverify.
  await page.goto(appUrl);
  const asked = authorizeRequests;
  await page.getByRole('button', { name: /Rotate the API key/ }).click();
  await page.locator('[data-log] li').first().waitFor(); // the same URL: wait for the answer
  assert.equal(authorizeRequests, asked, 'no trip to Reverify');
  assert.deepEqual((await appClaims()).log, [`API key rotated (verified at ${iso(signedIn.auth_time)})`]);

  await sleep((MAX_AGE + 1) * 1000);
  await clickAndExpectModal(/Rotate the API key/);
  const code = modal().locator('input[name=code]');
  await code.waitFor();
  assert.equal(await modal().locator('input[name=password]').count(), 0, 'the second factor, not the password');
  await screenshot('modal-totp');
  await gallery('reverify-totp');
  await code.fill(await nextCode());
  const after = await appClaims();
  await screenshot('rotated-after-totp');
  assert.equal(after.sid, signedIn.sid, 'the same Reverify session');
  assert.ok(after.auth_time >= signedIn.auth_time + MAX_AGE + 1, `${after.auth_time} vs ${signedIn.auth_time}`);
  // What was just proved: a second factor (the password is older; design note 56).
  assert.equal(after.acr, 'urn:reverify:acr:2fa');
  assert.deepEqual(after.amr.split(' ').sort(), ['mfa', 'otp', 'pwd']);
  assert.equal(after.log[0], `API key rotated (verified at ${iso(after.auth_time)})`, 'the action ran after it');
  assert.equal(after.log.length, 2);
  signedIn = after;
  assert.equal((await asUser((client) => client.listSessions())).sessions.length, 1, 'no second sign-in');
  assert.deepEqual(problems, []);
});

test('acr_values=phr, then max_age again: a passkey with user verification, in the same session', async () => {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  // The authenticator belongs to the page's target: register from this tab.
  await page.goto(ACCOUNT);
  await page.evaluate(async () => {
    const { ReverifyClient } = await import('/sdk/index.js');
    const client = new ReverifyClient({ baseUrl: location.origin });
    await client.load();
    await client.registerPasskey('Phone');
  });
  await page.goto(appUrl);

  // The strong action: the session (mfa) is not phishing-resistant yet.
  await clickAndExpectModal(/Delete the project/);
  const passkey = await usePasskey();
  await screenshot('modal-passkey');
  await gallery('step-up-passkey');
  await passkey.click();
  const strong = await appClaims();
  await screenshot('deleted-after-passkey');
  assert.equal(strong.sid, signedIn.sid, 'the same Reverify session');
  assert.equal(strong.acr, 'phr');
  assert.ok(strong.amr.split(' ').includes('hwk') && strong.amr.split(' ').includes('user'), strong.amr);
  assert.ok(strong.auth_time >= signedIn.auth_time);
  assert.equal(strong.log[0], 'Project deleted (acr phr)');

  // Stale again: the passkey refreshes it too.
  await sleep((MAX_AGE + 1) * 1000);
  await clickAndExpectModal(/Rotate the API key/);
  await (await usePasskey()).click();
  const fresh = await appClaims();
  assert.equal(fresh.sid, signedIn.sid, 'the same Reverify session');
  assert.ok(fresh.auth_time >= strong.auth_time + MAX_AGE + 1, `${fresh.auth_time} vs ${strong.auth_time}`);
  assert.equal(fresh.acr, 'phr');
  assert.equal(fresh.log[0], `API key rotated (verified at ${iso(fresh.auth_time)})`);
  assert.equal(fresh.log.length, 4);
  assert.equal((await asUser((client) => client.listSessions())).sessions.length, 1, 'no second sign-in');
  assert.deepEqual(problems, []);
});

const iso = (t) => new Date(t * 1000).toISOString();
