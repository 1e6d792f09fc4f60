// End-to-end: the demo app (Rust, embedded auth server, SQLite) driven in headless
// Chromium. The announcement's flow with approvals: sign up, enroll TOTP; every Transfer
// opens the modal naming it ("Approve: Send €25.00 to Bob"), the code approves it, the
// transfer is retried once and made once; the approval is spent and bound to that transfer.
//
// Needs the demo binary (cargo build -p reverify-demo) and Chromium: see support.mjs.
// Screenshots of each step: target/e2e-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SHOTS, codeFromOutbox as outboxCode, sleep, startDemo, totp } from './support.mjs';

// Every transfer needs an approval of it, however fresh the session. Other sensitive
// steps (adding a passkey) need a second-factor verification within the last 6 s.
const WINDOW_MS = 6000;
const POLICY = JSON.stringify({ level: 'second_factor', afterMinutes: WINDOW_MS / 60000 });
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';

let demo, base, context, page, secret, backupCodes;
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
/** The action the open modal asks to approve, as shown. */
const approving = () => modal().locator('[part=action]').textContent();

/** Approves in the open modal with the next unused backup code (TOTP codes are three per
 * 30 s: the tests not about them use backup codes, and never wait for a time step). */
let usedBackupCodes = 0;
async function approveWithBackupCode() {
  await modal().locator('[data-strategy=backup_code]').click();
  await modal().locator('input[name=code]').fill(backupCodes[usedBackupCodes++]);
  await modal().locator('input[name=code]').press('Enter');
}

/** The ledger's entries for the signed-in user (newest first). */
const ledger = () =>
  page.evaluate(() =>
    fetch('/api/transfers')
      .then((r) => r.json())
      .then((b) => b.transfers),
  );
const balance = () => page.evaluate(() => fetch('/api/balance').then((r) => r.json().then((b) => b.balance_cents)));

/** The claims of the page's current `__session` token. */
async function sessionClaims() {
  const cookie = (await context.cookies(base)).find((c) => c.name === '__session');
  return { token: cookie.value, claims: JSON.parse(Buffer.from(cookie.value.split('.')[1], 'base64url')) };
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
  backupCodes = (await account.locator('[data-testid=backup-codes] li').allTextContents()).map((c) => c.trim());
  await screenshot('backup-codes');
  await account.locator('[data-action=codes-done]').click();
});

let approvedKey; // the Idempotency-Key of the approved €25 to Bob

test('Transfer opens the modal naming it, the TOTP code approves it: one retry with the same key, one transfer', async () => {
  const code = await nextCode();
  transferRequests.length = 0;
  const before = (await ledger()).length;
  await page.locator('#to').fill('Bob');
  await page.locator('#amount').fill('25');
  await page.locator('#transfer').click();
  await modal().waitFor();
  assert.equal(await page.locator('reverify-verification-modal dialog[open]').count(), 1);
  assert.equal(await approving(), 'Approve: Send €25.00 to Bob');
  await screenshot('modal-totp');
  await modal().locator('input[name=code]').fill(code);
  await page.locator('#status', { hasText: 'Sent €25.00 to Bob.' }).waitFor();
  await screenshot('transfer-done');
  assert.equal(await modal().count(), 0, 'the modal closed');
  assert.equal(transferRequests.length, 2, 'the first call and exactly one retry');
  const [first, retry] = transferRequests.map((r) => r.headers()['idempotency-key']);
  assert.match(first, /^"[0-9a-f-]{36}"$/, 'a structured-field string');
  assert.equal(retry, first, 'the retry carries the same key');
  approvedKey = first;
  // The 403 named this very transfer; the fresh token's approval is of its digest.
  const asked = await (await transferRequests[0].response()).json();
  assert.deepEqual(asked.clerk_error.metadata.action.fields, { amount_cents: '2500', currency: 'EUR', to: 'Bob' });
  const { claims } = await sessionClaims();
  assert.equal(claims.apr?.dig, asked.clerk_error.metadata.action.digest);
  const after = await ledger();
  assert.equal(after.length, before + 1, 'exactly one transfer');
  assert.deepEqual([after[0].to, after[0].amount_cents], ['Bob', 2500]);
  assert.equal(await page.locator('#balance').textContent(), '€975.00', 'the balance moved once');
  assert.equal(await balance(), 97500);
});

test('the approval is bound to that transfer and spent: a modified or repeated request is refused, no money moves', async () => {
  // Still the token that carries the approval (used once by now).
  const { token, claims } = await sessionClaims();
  assert.ok(claims.apr, 'the session token still carries the (spent) approval');
  const before = await ledger();
  const send = (body, key) =>
    page.evaluate(
      async ([body, key]) => {
        const headers = { 'content-type': 'application/json' };
        if (key) headers['idempotency-key'] = key;
        const r = await fetch('/api/transfer', { method: 'POST', headers, body: JSON.stringify(body) });
        return { status: r.status, replayed: r.headers.get('idempotent-replayed'), body: await r.json() };
      },
      [body, key],
    );
  // Another payee and amount on the same cookies: another action, not approved.
  const mallory = await send({ to: 'Mallory', amount_cents: 999900 });
  assert.equal(mallory.status, 403);
  assert.equal(mallory.body.clerk_error.reason, 'reverification-error');
  assert.equal(mallory.body.clerk_error.metadata.action.summary, 'Send €9,999.00 to Mallory');
  assert.equal(mallory.body.clerk_error.metadata.action.fields.to, 'Mallory');
  // The exact approved body again, under a new key: the approval was used once.
  const again = await send({ to: 'Bob', amount_cents: 2500 }, '"replay-of-the-approved-transfer"');
  assert.equal(again.status, 403);
  assert.equal(again.body.clerk_error.metadata.action.summary, 'Send €25.00 to Bob');
  assert.equal(again.body.clerk_error.metadata.action.digest, claims.apr.dig, 'the same action, already approved once');
  // Under the approved key: the stored answer, not a second transfer.
  const repeat = await send({ to: 'Bob', amount_cents: 2500 }, approvedKey);
  assert.equal(repeat.status, 200);
  assert.equal(repeat.replayed, 'true');
  assert.equal(repeat.body.id, before[0].id);
  assert.equal((await sessionClaims()).token, token, 'all of it on the approving token');
  assert.deepEqual(await ledger(), before, 'no extra ledger entry');
  assert.equal(await balance(), 97500);
});

test('cancel: the transfer is not made and the page says so', async () => {
  transferRequests.length = 0;
  const before = (await ledger()).length;
  await page.locator('#transfer').click();
  await modal().waitFor();
  await page.keyboard.press('Escape');
  await page.locator('#status', { hasText: 'Transfer not made: you did not approve it.' }).waitFor();
  await screenshot('cancelled');
  assert.equal(transferRequests.length, 1, 'no retry after cancel');
  assert.equal(await page.locator('#balance').textContent(), '€975.00');
  assert.equal((await ledger()).length, before, 'no transfer');
  assert.equal(await balance(), 97500);
});

test('two concurrent transfers need two approvals: two modals in turn, each naming its own transfer', async () => {
  transferRequests.length = 0;
  const both = page.evaluate(() =>
    Promise.all([demo.transferMoney('Carol', 100), demo.transferMoney('Dan', 200)]).then((rs) =>
      Promise.all(rs.map(async (r) => [r.status, (await r.json()).to])),
    ),
  );
  const summaries = ['Approve: Send €1.00 to Carol', 'Approve: Send €2.00 to Dan'];
  await modal().waitFor();
  await sleep(300); // a second modal, if there were one, would be open by now
  assert.equal(await page.locator('reverify-verification-modal dialog[open]').count(), 1, 'one prompt at a time');
  const first = await approving();
  assert.ok(summaries.includes(first), first);
  await screenshot('first-of-two-approvals');
  await approveWithBackupCode();
  // The second prompt: the other transfer.
  const second = summaries.find((s) => s !== first);
  await modal().locator('[part=action]', { hasText: second }).waitFor();
  assert.equal(await page.locator('reverify-verification-modal dialog[open]').count(), 1, 'one prompt at a time');
  assert.equal(await approving(), second);
  await screenshot('second-of-two-approvals');
  await approveWithBackupCode();
  assert.deepEqual(await both, [
    [200, 'Carol'],
    [200, 'Dan'],
  ]);
  assert.equal(transferRequests.length, 4, 'two calls, one retry each');
  assert.equal(await balance(), 97500 - 300);
});

test('the modal can be completed with the keyboard alone', async () => {
  await page.evaluate(() => demo.refreshBalance());
  const code = await nextCode();
  await page.locator('#amount').fill('10');
  await page.locator('#amount').focus();
  await page.keyboard.press('Enter'); // submits the transfer form
  await modal().locator('input[name=code]').waitFor();
  assert.equal(await approving(), 'Approve: Send €10.00 to Bob');
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

test('passkey: register with a virtual authenticator, then approve a transfer with it', async () => {
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
  // Adding a passkey is sensitive: the session may need verifying first. (No waiter is left
  // behind: one still waiting for a modal would answer the transfer's below.)
  const added = account.getByText('Virtual key');
  await Promise.race([added.waitFor(), modal().waitFor()]);
  if (!(await added.isVisible())) {
    await approveWithBackupCode();
    await added.waitFor();
  }
  await screenshot('passkey-added');

  transferRequests.length = 0;
  const before = (await ledger()).length;
  await page.locator('#amount').fill('5');
  await page.locator('#transfer').click();
  await modal().waitFor();
  assert.equal(await approving(), 'Approve: Send €5.00 to Bob');
  // The modal starts with the method used last (the app's code): switch to the passkey. It
  // may still be loading or re-rendering, so look again until the passkey button is there.
  const usePasskey = modal().locator('[data-action=passkey]');
  for (let i = 0; !(await usePasskey.isVisible()); i++) {
    assert.ok(i < 50, 'the modal offers the passkey');
    await modal()
      .locator('[data-strategy=passkey]')
      .click({ timeout: 200 })
      .catch(() => {});
    await sleep(100);
  }
  await screenshot('modal-passkey');
  await usePasskey.click();
  await page.locator('#status', { hasText: 'Sent €5.00 to Bob.' }).waitFor();
  assert.equal(transferRequests.length, 2);
  assert.equal((await ledger()).length, before + 1, 'one transfer');
  await screenshot('passkey-transfer-done');
});

test('the React page: useReverification as in the announcement, the modal naming the transfer', async () => {
  await page.goto(`${base}/react`);
  await page.locator('#email', { hasText: EMAIL }).waitFor();
  await page.locator('#balance', { hasText: '€' }).waitFor();
  const before = await balance();
  const entries = (await ledger()).length;
  transferRequests.length = 0;
  await page.locator('#amount').fill('25');
  await page.locator('#transfer').click();
  await modal().waitFor();
  assert.equal(await approving(), 'Approve: Send €25.00 to Bob');
  await screenshot('react-modal');
  // The passkey was used last (the test before): the modal starts with it; a backup code.
  await approveWithBackupCode();
  await page.locator('#status', { hasText: 'Sent €25.00 to Bob.' }).waitFor();
  await screenshot('react-done');
  assert.equal(transferRequests.length, 2);
  const [first, retry] = transferRequests.map((r) => r.headers()['idempotency-key']);
  assert.match(first, /^"[0-9a-f-]{36}"$/);
  assert.equal(retry, first, 'the retry carries the same key');
  assert.equal((await ledger()).length, entries + 1, 'exactly one transfer');
  assert.equal(await balance(), before - 2500, 'the balance moved once');
  await page.locator('#balance', { hasText: '€' }).waitFor();
  await page.locator('#transfers li', { hasText: 'Bob' }).first().waitFor();
});
