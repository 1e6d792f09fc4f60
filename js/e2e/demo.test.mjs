// End-to-end: the demo app (Rust, embedded auth server, SQLite) driven in headless
// Chromium. The announcement's flow: sign up, enroll TOTP, the session goes stale, Transfer
// opens the modal, the code is entered, the transfer is retried once and made once.
//
// Needs the demo binary (cargo build -p reverify-demo) and Chromium: see support.mjs.
// Screenshots of each step: target/e2e-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SHOTS, codeFromOutbox as outboxCode, sleep, startDemo, totp } from './support.mjs';

// Transfers need a second-factor verification within the last 6 s (strict, shortened so
// that the test can make the session stale by waiting).
const WINDOW_MS = 6000;
const POLICY = JSON.stringify({ level: 'second_factor', afterMinutes: WINDOW_MS / 60000 });
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';

let demo, base, context, page, secret;
let shot = 0;
let lastStep = 0;
const transferRequests = [];

async function screenshot(name) {
  shot += 1;
  await page.screenshot({ path: join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

const codeFromOutbox = (email) => outboxCode(base, email);

// A code the server has not seen: a later step than the last one used, within ±1 step.
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

const modal = () => page.locator('reverify-verification-modal dialog[open]');

async function stale() {
  await sleep(WINDOW_MS + 500);
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  demo = await startDemo({ REVERIFY_DEMO_POLICY: POLICY });
  ({ base, context, page } = demo);
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/transfer') transferRequests.push(r);
  });
  page.on('pageerror', (e) => console.error('page error:', e));
  page.on('console', (m) => m.type() === 'error' && console.error('console:', m.text()));
});

after(async () => {
  await demo?.stop();
});

test('sign up with the emailed code, then enroll TOTP', async () => {
  await page.goto(base);
  await page.locator('summary').click();
  const signUp = page.locator('reverify-sign-up');
  await signUp.locator('input[name=email]').fill(EMAIL);
  await signUp.locator('input[name=password]').fill(PASSWORD);
  await screenshot('sign-up');
  await signUp.locator('[data-action=submit]').click();
  await signUp.locator('input[name=code]').fill(await codeFromOutbox(EMAIL));
  await page.locator('#balance', { hasText: '€1,000.00' }).waitFor();
  await screenshot('signed-in');

  const account = page.locator('reverify-account');
  await account.locator('[data-action=totp-start]').click();
  secret = (await account.locator('[data-testid=totp-secret]').textContent()).replace(/\s/g, '');
  await account.locator('[data-testid=totp-qr]').waitFor();
  await screenshot('totp-qr');
  await account.locator('input[name=code]').fill(await nextCode());
  await account.locator('[data-testid=backup-codes] li').first().waitFor();
  assert.equal(await account.locator('[data-testid=backup-codes] li').count(), 10);
  await screenshot('backup-codes');
  await account.locator('[data-action=codes-done]').click();
});

test('a stale session: Transfer opens the modal, the TOTP code completes it, one retry, one transfer', async () => {
  await stale();
  const code = await nextCode();
  transferRequests.length = 0;
  await page.locator('#transfer').click();
  await modal().waitFor();
  assert.equal(await page.locator('reverify-verification-modal dialog[open]').count(), 1);
  await screenshot('modal-totp');
  await modal().locator('input[name=code]').fill(code);
  await page.locator('#status', { hasText: 'Sent €25.00 to Bob.' }).waitFor();
  await screenshot('transfer-done');
  assert.equal(await modal().count(), 0, 'the modal closed');
  assert.equal(transferRequests.length, 2, 'the first call and exactly one retry');
  assert.equal(await page.locator('#balance').textContent(), '€975.00', 'the balance changed once');
});

test('cancel: the transfer is not made and the page says so', async () => {
  await stale();
  transferRequests.length = 0;
  await page.locator('#transfer').click();
  await modal().waitFor();
  await page.keyboard.press('Escape');
  await page.locator('#status', { hasText: 'Transfer cancelled' }).waitFor();
  await screenshot('cancelled');
  assert.equal(transferRequests.length, 1, 'no retry after cancel');
  assert.equal(await page.locator('#balance').textContent(), '€975.00');
  const r = await page.evaluate(() => fetch('/api/balance').then((r) => r.json()));
  assert.equal(r.balance_cents, 97500);
});

test('two concurrent protected calls share one modal and both succeed', async () => {
  await stale();
  const code = await nextCode();
  transferRequests.length = 0;
  const both = page.evaluate(() =>
    Promise.all([demo.transferMoney('Carol', 100), demo.transferMoney('Dan', 200)]).then((rs) =>
      Promise.all(rs.map(async (r) => [r.status, (await r.json()).to])),
    ),
  );
  await modal().waitFor();
  await sleep(300); // a second modal, if there were one, would be open by now
  assert.equal(await page.locator('reverify-verification-modal dialog[open]').count(), 1, 'one prompt');
  await screenshot('one-modal-for-two-calls');
  await modal().locator('input[name=code]').fill(code);
  assert.deepEqual(await both, [
    [200, 'Carol'],
    [200, 'Dan'],
  ]);
  assert.equal(transferRequests.length, 4, 'two calls, one retry each');
  const r = await page.evaluate(() => fetch('/api/balance').then((r) => r.json()));
  assert.equal(r.balance_cents, 97500 - 300);
});

test('the modal can be completed with the keyboard alone', async () => {
  await page.evaluate(() => demo.refreshBalance());
  await stale();
  const code = await nextCode();
  await page.locator('#amount').fill('10');
  await page.locator('#amount').focus();
  await page.keyboard.press('Enter'); // submits the transfer form
  await modal().locator('input[name=code]').waitFor();
  await page.waitForFunction(
    () =>
      ((a) => {
        while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
        return a?.getAttribute('name') === 'code';
      })(document.activeElement),
    null,
    { timeout: 5000 },
  );
  await page.keyboard.type(code);
  await screenshot('keyboard-only');
  // A complete code submits itself: no Enter needed.
  await page.locator('#status', { hasText: 'Sent €10.00 to Bob.' }).waitFor();
  assert.equal(await modal().count(), 0);
  const back = await page.evaluate(() => document.activeElement?.id);
  assert.equal(back, 'amount', 'focus returns where it was');
});

test('passkey: register with a virtual authenticator, then reverify with it', async () => {
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
  const account = page.locator('reverify-account');
  await account.locator('input[name=passkey_name]').fill('Virtual key');
  await account.locator('[data-action=passkey-add]').click();
  // Adding a passkey is sensitive: the session may need verifying first.
  await Promise.race([
    account.getByText('Virtual key').waitFor(),
    modal()
      .waitFor()
      .then(async () => {
        await modal()
          .locator('input[name=code]')
          .fill(await nextCode());
        await account.getByText('Virtual key').waitFor();
      }),
  ]);
  await screenshot('passkey-added');

  await stale();
  transferRequests.length = 0;
  await page.locator('#amount').fill('5');
  await page.locator('#transfer').click();
  await modal().waitFor();
  await modal().locator('[data-strategy=passkey]').click();
  await screenshot('modal-passkey');
  await modal().locator('[data-action=passkey]').click();
  await page.locator('#status', { hasText: 'Sent €5.00 to Bob.' }).waitFor();
  assert.equal(transferRequests.length, 2);
  await screenshot('passkey-transfer-done');
});

test('the React page: useReverification as in the announcement', async () => {
  await page.goto(`${base}/react`);
  await page.locator('#email', { hasText: EMAIL }).waitFor();
  await page.locator('#balance', { hasText: '€' }).waitFor();
  const before = await page.locator('#balance').textContent();
  await stale();
  const code = await nextCode();
  transferRequests.length = 0;
  await page.locator('#amount').fill('25');
  await page.locator('#transfer').click();
  await modal().waitFor();
  await screenshot('react-modal');
  // The passkey was used last (the test before): the modal starts with it; switch to the app.
  await modal().locator('[data-strategy=totp]').click();
  await modal().locator('input[name=code]').fill(code);
  await page.locator('#status', { hasText: 'Sent €25.00 to Bob.' }).waitFor();
  await screenshot('react-done');
  assert.equal(transferRequests.length, 2);
  assert.notEqual(await page.locator('#balance').textContent(), before, 'the balance changed');
  await page.locator('#transfers li', { hasText: 'Bob' }).first().waitFor();
});
