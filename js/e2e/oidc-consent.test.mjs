// End-to-end: the OpenID provider's consent screen in headless Chromium (issue 13). A
// third-party app's request: sign in on the hosted page, then the consent screen
// (<reverify-consent>, 320 px wide, dark): Allow goes back to the app with a code (the
// page's `form-action 'self'` does not get in the way: the answer is a fetch, then a
// navigation); the next request skips the screen; `prompt=consent` asks again and Deny goes
// back with access_denied. Then the authorization request as another site's form POST: the
// session cookie (SameSite=Lax) is not sent with it, the 303 continuation on the provider's
// site carries it, and a code comes back.
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
const SECRET = 'third-party-client-secret-0123456789-abcdefgh';
const RP = 'http://127.0.0.1:65531/cb'; // nothing listens there: the test reads the request
let provider, base, context, page;
const problems = [];

before(async () => {
  provider = await startProvider({
    name: 'consent-e2e',
    toml:
      `[[oidc.clients]]\nclient_id = "wiki"\nname = "Team Wiki"\nclient_secret = "${SECRET}"\n` +
      `redirect_uris = ["${RP}"]\n`,
    users: [{ email: 'ana@example.com', password: PASSWORD }],
  });
  base = provider.base;
  context = await launchChromium(join(provider.work, 'profile'), {
    args: ['--host-resolver-rules=MAP localhost 127.0.0.1'],
    viewport: { width: 320, height: 640 },
    colorScheme: 'dark',
  });
  page = context.pages()[0] || (await context.newPage());
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text() + ' ' + JSON.stringify(m.location())));
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
});

after(async () => {
  await context?.close().catch(() => {});
  provider?.stop();
});

const b64url = (buf) => buf.toString('base64url');

/** The parameters of an authorization request by the wiki, and its PKCE verifier. */
function request(extra = {}) {
  const verifier = b64url(randomBytes(32));
  const params = {
    client_id: 'wiki',
    redirect_uri: RP,
    response_type: 'code',
    scope: 'openid email',
    state: 'st-' + randomBytes(4).toString('hex'),
    nonce: 'n-1',
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    ...extra,
  };
  return { params, verifier };
}

/** Runs `go` then `act`; resolves with the query of the app's callback the browser reached. */
async function cameBack(params, go, act) {
  // The app's callback is not served: the request the browser makes to it is the answer.
  const callback = page.waitForRequest((r) => r.url().startsWith(RP), { timeout: 15_000 });
  await go().catch(() => {});
  await act();
  const back = new URL((await callback.catch(() => null))?.url() ?? 'about:blank');
  assert.equal(back.origin + back.pathname, RP, `back to the app (at ${page.url()}: ${problems.join('; ')})`);
  assert.equal(back.searchParams.get('state'), params.state);
  assert.equal(back.searchParams.get('iss'), base);
  return back.searchParams;
}

function authorizeUrl(params) {
  const url = new URL(base + '/oauth/authorize');
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

async function exchange(code, verifier) {
  const r = await fetch(base + '/oauth/token', {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'Basic ' + Buffer.from('wiki:' + SECRET).toString('base64'),
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: RP, code_verifier: verifier }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

const consent = () => page.locator('reverify-consent');

/** A new tab (the last one may still be failing to load the app's unserved callback). */
async function freshTab() {
  const previous = page;
  page = await context.newPage();
  await previous.close();
}

test('a third-party app: sign in, the consent screen, Allow; remembered; Deny', async () => {
  const first = request();
  const back = await cameBack(
    first.params,
    () => page.goto(authorizeUrl(first.params)),
    async () => {
      await page.locator('reverify-sign-in input[name=email]').fill('ana@example.com');
      await page.locator('reverify-sign-in input[name=password]').fill(PASSWORD);
      await page.locator('reverify-sign-in button[data-action=submit]').click();
      // The consent screen: the app, what it asks in words, the account, two buttons.
      const allow = consent().locator('button[data-action=allow]');
      await allow.waitFor({ state: 'visible', timeout: 10_000 });
      await assert.doesNotReject(consent().getByRole('heading', { name: 'Allow Team Wiki?' }).waitFor());
      const list = consent().getByRole('list', { name: 'What Team Wiki asks for' });
      assert.deepEqual(await list.getByRole('listitem').allTextContents(), [
        'Know who you are',
        'See your email address',
      ]);
      assert.match(await consent().locator('[part=identity]').textContent(), /ana@example\.com/);
      assert.equal(await consent().getByRole('button', { name: 'Deny' }).count(), 1);
      // 320 px: nothing scrolls sideways. Dark: the card follows prefers-color-scheme.
      const { scroll, width, bg, text } = await page.evaluate(() => {
        const card = document.querySelector('reverify-consent').shadowRoot.querySelector('.card');
        return {
          scroll: document.documentElement.scrollWidth,
          width: document.documentElement.clientWidth,
          bg: getComputedStyle(card).backgroundColor,
          text: getComputedStyle(document.documentElement).color,
        };
      });
      // The page around the card is dark too (its color-scheme: light text on a dark canvas).
      const light = text.match(/\d+/g).map(Number);
      assert.ok(light[0] + light[1] + light[2] > 600, `the page's text in dark mode: ${text}`);
      assert.ok(scroll <= width, `no horizontal scroll at 320 px (${scroll} > ${width})`);
      const [r, g, b] = bg.match(/\d+/g).map(Number);
      assert.ok(r + g + b < 200, `a dark card in dark mode: ${bg}`);
      // Reachable by keyboard: Tab from Deny lands on Allow, Enter answers.
      await consent().getByRole('button', { name: 'Deny' }).focus();
      await page.keyboard.press('Tab');
      assert.equal(
        await page.evaluate(() => document.querySelector('reverify-consent').shadowRoot.activeElement?.dataset.action),
        'allow',
      );
      await page.keyboard.press('Enter');
    },
  );
  const tokens = await exchange(back.get('code'), first.verifier);
  assert.equal(tokens.scope, 'openid email');
  const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url'));
  assert.equal(claims.aud, 'wiki');

  // Allowed before: straight back, no screen.
  const again = request();
  const direct = await cameBack(
    again.params,
    () => page.goto(authorizeUrl(again.params)),
    async () => {},
  );
  assert.ok(direct.get('code'));

  // prompt=consent asks again; Deny goes back with access_denied.
  const asked = request({ prompt: 'consent' });
  const denied = await cameBack(
    asked.params,
    () => page.goto(authorizeUrl(asked.params)),
    async () => {
      const deny = consent().locator('button[data-action=deny]');
      await deny.waitFor({ state: 'visible', timeout: 10_000 });
      await deny.click();
    },
  );
  assert.equal(denied.get('error'), 'access_denied');
  assert.equal(denied.get('code'), null);
  // No CSP violation, no script error, no failed request (but the browser's own favicon).
  assert.deepEqual(
    problems.filter((p) => !p.includes(RP) && !p.includes('/favicon.ico')),
    [],
  );
});

test("the authorization request as another site's form POST comes back with a code", async () => {
  const { params, verifier } = request();
  // A page with no origin of the provider's (about:blank): its form POST is cross-site.
  await freshTab();
  await page.setContent(
    `<form method="post" action="${base}/oauth/authorize">` +
      Object.entries(params)
        .map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`)
        .join('') +
      '<button>Sign in with Reverify</button></form>',
  );
  const back = await cameBack(
    params,
    () => page.locator('button').click(),
    async () => {},
  );
  await exchange(back.get('code'), verifier);
});

test('phr: the modal offers only the passkey, and the ID token says phr', async () => {
  await freshTab();
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
  // A passkey for the signed-in account, through the SDK on a page of the provider's.
  await page.goto(base + '/oauth/logout'); // an HTML page of the provider's (script-src 'self')
  await page.evaluate(async () => {
    const { ReverifyClient } = await import('/sdk/index.js');
    await new ReverifyClient({ baseUrl: location.origin }).registerPasskey('Laptop');
  });

  const { params, verifier } = request({ acr_values: 'phr' });
  const modal = page.locator('reverify-verification-modal dialog[open]');
  const back = await cameBack(
    params,
    () => page.goto(authorizeUrl(params)),
    async () => {
      const passkey = modal.locator('button[data-action=passkey]');
      await passkey.waitFor({ state: 'visible', timeout: 10_000 });
      // Nothing but the passkey: no password field, no other way offered.
      assert.equal(await modal.locator('input[name=password]').count(), 0);
      assert.equal(await modal.locator('[data-strategy]').count(), 0);
      await passkey.click();
    },
  );
  const tokens = await exchange(back.get('code'), verifier);
  const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url'));
  assert.equal(claims.acr, 'phr');
  assert.ok(claims.amr.includes('hwk') && claims.amr.includes('user'), claims.amr.join(' '));
});
