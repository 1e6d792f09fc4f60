// End-to-end: the demo pages as a product (issue 10) — on both `/` and `/react` where the
// behaviour is the page's: every transfer approved in the modal that names it, one
// request (and one approval) per Transfer intent, cancelling, the recent transfers, errors
// by their field, the dark theme, a 320 px screen and the modal on a phone, a quiet
// signed-out load, and the page following the session live (sign-out and in again, a
// session ended elsewhere, a transfer waiting in the approval modal when that happens).
//
// Accounts are created and signed in through the page's own client (`window.demo.client`)
// where the test is not about the sign-in UI, and sessions are ended elsewhere through the
// admin API. Screenshots: target/e2e-screenshots/page-*.png.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SHOTS, codeFromOutbox, sleep, startDemo } from './support.mjs';
import { audit, overflowX } from '../test/ui/helpers.js';

// Every transfer needs an approval of it (these users have no second factor: their
// password approves). The freshness window only matters with approvals off.
const WINDOW_MS = 6000;
const POLICY = JSON.stringify({ level: 'second_factor', afterMinutes: WINDOW_MS / 60000 });
const ADMIN_KEY = randomBytes(32).toString('hex');
const PASSWORD = 'correct horse battery staple';
const PAGES = ['/', '/react'];
const WAIT = { timeout: 10_000 };

let demo, base, page;
/** Console errors, uncaught errors and answers >= 400 since the last `beforeEach`. */
let problems = [];
let transferRequests = [];

const shot = (name) => page.screenshot({ path: join(SHOTS, `page-${name}.png`), fullPage: true });
const modal = () => page.locator('reverify-verification-modal dialog[open]');
const dialogs = () => page.locator('reverify-verification-modal dialog[open]').count();
const visible = (selector) => page.locator(selector).waitFor({ state: 'visible', ...WAIT });

/** Opens `path` and waits for its client to have loaded the session. */
async function open(path) {
  await page.goto(base + path);
  await page.locator('#signed-in:visible, #signed-out:visible').first().waitFor(WAIT);
}

/** Creates an account through the page's client (signed in, so the session is fresh). */
async function signUp(email) {
  const { id } = await page.evaluate(([e, p]) => demo.client.signUp(e, p), [email, PASSWORD]);
  const code = await codeFromOutbox(base, email);
  await page.evaluate(([i, c]) => demo.client.attemptSignUp(i, c), [id, code]);
  await page.locator('#email', { hasText: email }).waitFor(WAIT);
}

/** Waits for the approval modal, checks what it names, and approves with the password. */
async function approve(summary) {
  await modal().waitFor(WAIT);
  assert.equal(await modal().locator('[part=action]').textContent(), `Approve: ${summary}`);
  await modal().locator('input[name=password]').fill(PASSWORD, WAIT);
  await modal().locator('input[name=password]').press('Enter');
}

/** Opens `path` signed in as a new account `email`. */
async function newAccount(path, email) {
  await open(path);
  if (await page.evaluate(() => !!demo.client.user)) await page.evaluate(() => demo.client.signOut());
  await signUp(email);
  await page.locator('#balance', { hasText: '€1,000.00' }).waitFor(WAIT);
}

const suffix = (path) => (path === '/' ? '' : '-react');

/** The ledger's entries for the signed-in user (newest first). */
const ledger = () =>
  page.evaluate(() =>
    fetch('/api/transfers')
      .then((r) => r.json())
      .then((b) => b.transfers),
  );

/** Ends the page's session as another device would: through the admin API. */
async function endSessionElsewhere() {
  const id = await page.evaluate(() => demo.client.session.id);
  const r = await fetch(`${base}/auth/v1/admin/sessions/${encodeURIComponent(id)}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  assert.ok(r.ok, `the admin API revoked the session (${r.status})`);
}

/** The page's next call to the auth server (which finds the session ended). */
const nextCall = () => page.evaluate(() => demo.client.getToken({ force: true }).catch(() => null));

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  demo = await startDemo({ REVERIFY_DEMO_POLICY: POLICY, REVERIFY_ADMIN_SECRET_KEY: ADMIN_KEY });
  ({ base, page } = demo);
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.request().method()} ${r.url()}`));
  page.on('request', (r) => new URL(r.url()).pathname === '/api/transfer' && transferRequests.push(r));
});

after(async () => {
  await demo?.stop();
});

beforeEach(() => {
  problems = [];
  transferRequests = [];
});

test('a signed-out load of either page: no console error, no failed request', async () => {
  for (const path of PAGES) {
    problems = [];
    await page.goto(base + path, { waitUntil: 'networkidle' });
    await visible('#signed-out');
    await page.locator('reverify-sign-in input[name=email]').waitFor(WAIT);
    await sleep(300);
    assert.deepEqual(problems, [], `${path}: a quiet load`);
    for (const colorScheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme });
      assert.deepEqual(await audit(page, 'body'), [], `${path}, signed out, ${colorScheme}: axe`);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  }
});

test('the React page works from the binary alone, with sign-in, sign-up and the account element', async () => {
  await open('/react');
  await page.locator('reverify-sign-in input[name=password]').waitFor(WAIT);
  await page.locator('summary').click();
  await page.locator('reverify-sign-up input[name=email]').waitFor(WAIT);
  const script = await page.evaluate(() =>
    fetch('/react/app.js').then((r) => [r.status, r.headers.get('content-type')]),
  );
  assert.deepEqual(script, [200, 'text/javascript; charset=utf-8']);
  await signUp('grace@example.com');
  await page.locator('#balance', { hasText: '€1,000.00' }).waitFor(WAIT);
  await page.locator('reverify-account [data-action=totp-start]').waitFor(WAIT);
  await visible('#sign-out');
  await shot('react-signed-in');
});

test('both pages signed in pass axe (WCAG 2.1 AA, best practices), light and dark, inside the elements too', async () => {
  for (const path of PAGES) {
    await open(path);
    await page.locator('reverify-account [data-action=totp-start]').waitFor(WAIT);
    for (const colorScheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme });
      assert.deepEqual(await audit(page, 'body'), [], `${path}, signed in, ${colorScheme}: axe`);
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
});

for (const path of PAGES) {
  test(`${path}: a double-click on Transfer opens one modal and makes one transfer, with a visible pending state`, async () => {
    await newAccount(path, `double${suffix(path)}@example.com`);
    // Hold the transfer's answer so that the pending state can be seen.
    let release;
    const held = new Promise((r) => (release = r));
    await page.route('**/api/transfer', async (route) => {
      await held;
      await route.continue();
    });
    try {
      await page.locator('#to').fill('Bob');
      await page.locator('#amount').fill('25');
      await page.locator('#transfer').dblclick();
      await page.keyboard.press('Enter'); // and an Enter, for good measure
      const button = page.locator('#transfer');
      assert.equal(await button.isDisabled(), true, 'disabled while pending');
      assert.equal(await button.getAttribute('aria-busy'), 'true');
      assert.match(await button.textContent(), /Transferring/);
      await shot(`pending${path === '/' ? '' : '-react'}`);
    } finally {
      release();
    }
    await modal().waitFor(WAIT);
    await sleep(300); // a second modal, if there were one, would be open by now
    assert.equal(await dialogs(), 1, 'one modal');
    await approve('Send €25.00 to Bob');
    await page.locator('#status', { hasText: 'Sent €25.00 to Bob.' }).waitFor(WAIT);
    await page.unroute('**/api/transfer');
    assert.equal(transferRequests.length, 2, 'one request, and its one retry after the approval');
    assert.equal((await ledger()).length, 1, 'one ledger entry');
    assert.equal(await page.locator('#transfer').isEnabled(), true, 'enabled again');
    // The recent transfers, under the balance, updated after the transfer.
    await page.locator('#transfers li', { hasText: 'Bob' }).waitFor(WAIT);
    assert.equal(await page.locator('#transfers li').count(), 1);
    assert.match(await page.locator('#transfers li').first().textContent(), /Bob.*€25\.00/);
    assert.equal(await page.locator('#balance').textContent(), '€975.00');
  });
}

for (const path of PAGES) {
  test(`${path}: the transfer API's errors are shown by their field, announced, without layout shift`, async () => {
    await newAccount(path, `fields${suffix(path)}@example.com`);
    const y = async () => (await page.locator('#transfer').boundingBox()).y;
    const before = await y();

    await page.locator('#amount').fill('0');
    await page.locator('#transfer').click();
    const amountError = page.locator('#amount-error');
    await amountError.filter({ hasText: 'The amount must be a positive number' }).waitFor(WAIT);
    assert.equal(await amountError.getAttribute('role'), 'alert');
    assert.equal(await page.locator('#amount').getAttribute('aria-invalid'), 'true');
    assert.equal(await y(), before, 'the button did not move');

    // Checked before any approval is asked: no modal for an invalid amount.
    assert.equal(await modal().count(), 0);

    await page.locator('#amount').fill('5000');
    await page.locator('#transfer').click();
    await approve('Send €5,000.00 to Bob');
    await amountError.filter({ hasText: 'The balance is too low for this transfer.' }).waitFor(WAIT);
    assert.equal(await y(), before, 'the button did not move');
    await shot(`field-error${path === '/' ? '' : '-react'}`);

    await page.locator('#amount').fill('1');
    await page.locator('#transfer').click();
    await approve('Send €1.00 to Bob');
    await page.locator('#status', { hasText: 'Sent €1.00 to Bob.' }).waitFor(WAIT);
    assert.equal(await amountError.textContent(), '', 'the error went away');
    assert.equal(await page.locator('#amount').getAttribute('aria-invalid'), null);
  });
}

test('320 px wide, light and dark, with a 60-character email: no horizontal scroll on either page', async () => {
  const email = `${'a'.repeat(48)}@example.com`;
  assert.equal(email.length, 60);
  await page.setViewportSize({ width: 320, height: 720 });
  try {
    await open('/');
    if (await page.evaluate(() => !!demo.client.user)) await page.evaluate(() => demo.client.signOut());
    // Signed out first: the sign-in card, and the sign-up card opened under it.
    for (const path of PAGES) {
      for (const colorScheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme });
        await open(path);
        await page.locator('summary').click();
        await page.locator('reverify-sign-up input[name=email]').waitFor(WAIT);
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 320, `${path} (${colorScheme}, signed out): scrollWidth ${width} <= 320`);
      }
    }
    await signUp(email);
    for (const path of PAGES) {
      for (const colorScheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme });
        await open(path);
        await page.locator('#email', { hasText: email }).waitFor(WAIT);
        await page.locator('reverify-account [data-action=totp-start]').waitFor(WAIT);
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 320, `${path} (${colorScheme}): scrollWidth ${width} <= 320`);
        // The page's colours follow the scheme (custom properties).
        const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
        const [r, g, b] = background.match(/\d+/g).map(Number);
        const dark = r + g + b < 3 * 128;
        assert.equal(dark, colorScheme === 'dark', `${path} (${colorScheme}): background ${background}`);
        await shot(`320-${colorScheme}${path === '/' ? '' : '-react'}`);
      }
    }
  } finally {
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 720 });
  }
});

for (const path of PAGES) {
  test(`${path}: sign out, then sign in again with the sign-in element, twice, without reloading`, async () => {
    const email = `again${path === '/' ? '' : '-react'}@example.com`;
    await open(path);
    if (await page.evaluate(() => !!demo.client.user)) await page.evaluate(() => demo.client.signOut());
    await signUp(email);
    for (let round = 1; round <= 2; round++) {
      await page.locator('#sign-out').click();
      await visible('#signed-out');
      const signIn = page.locator('reverify-sign-in');
      await signIn.locator('input[name=email]').fill(email, WAIT);
      await signIn.locator('input[name=password]').fill(PASSWORD, WAIT);
      await signIn.locator('[data-action=submit]').click();
      await page.locator('#email', { hasText: email }).waitFor(WAIT);
      await page.locator('#balance', { hasText: '€1,000.00' }).waitFor(WAIT);
      assert.equal(await page.locator('#signed-out').isVisible(), false, `round ${round}: signed in`);
    }
  });
}

for (const path of PAGES) {
  test(`${path}: a session ended elsewhere shows the sign-in at once, saying so`, async () => {
    const email = `ended${path === '/' ? '' : '-react'}@example.com`;
    await open(path);
    if (await page.evaluate(() => !!demo.client.user)) await page.evaluate(() => demo.client.signOut());
    await signUp(email);
    await endSessionElsewhere();
    await nextCall();
    await visible('#signed-out');
    await page.locator('#notice', { hasText: 'You were signed out.' }).waitFor(WAIT);
    await page.locator('reverify-sign-in input[name=email]').waitFor(WAIT);
    await shot(`session-ended${path === '/' ? '' : '-react'}`);
  });
}

for (const path of PAGES) {
  test(`${path}: a transfer waiting in the approval modal when the session ends elsewhere is not made, and the page says why`, async () => {
    await newAccount(path, `modal${suffix(path)}@example.com`);
    await page.locator('#amount').fill('25');
    await page.locator('#transfer').click();
    await modal().waitFor(WAIT);
    await endSessionElsewhere();
    await nextCall();
    const notice = page.locator('#notice');
    await notice.filter({ hasText: 'You were signed out, so the transfer was not made.' }).waitFor(WAIT);
    assert.doesNotMatch(await notice.textContent(), /did not approve/);
    await visible('#signed-out');
    assert.equal(await modal().count(), 0, 'the modal closed');
    assert.equal(transferRequests.length, 1, 'no retry');
    await shot(`signed-out-in-modal${path === '/' ? '' : '-react'}`);
  });
}

for (const path of PAGES) {
  test(`${path}: the modal says "Approve: Send €25.00 to Bob"; the password approves it: one transfer, the balance moved once`, async () => {
    await newAccount(path, `approve${suffix(path)}@example.com`);
    await page.locator('#to').fill('Bob');
    await page.locator('#amount').fill('25');
    await page.locator('#transfer').click();
    await modal().waitFor(WAIT);
    assert.equal(await modal().locator('[part=action]').textContent(), 'Approve: Send €25.00 to Bob');
    // The dialog is described by the action, for screen readers too.
    const described = await modal().getAttribute('aria-describedby');
    const actionId = await modal().locator('[part=action]').getAttribute('id');
    assert.ok(described.split(' ').includes(actionId), `aria-describedby "${described}" names the action`);
    await shot(`approve${suffix(path)}`);
    await approve('Send €25.00 to Bob');
    await page.locator('#status', { hasText: 'Sent €25.00 to Bob.' }).waitFor(WAIT);
    assert.equal(await modal().count(), 0, 'the modal closed');
    const entries = await ledger();
    assert.equal(entries.length, 1, 'exactly one transfer');
    assert.deepEqual([entries[0].to, entries[0].amount_cents], ['Bob', 2500]);
    assert.equal(await page.locator('#balance').textContent(), '€975.00', 'the balance moved once');
    const balance = await page.evaluate(() => fetch('/api/balance').then((r) => r.json()));
    assert.equal(balance.balance_cents, 97500);
  });
}

for (const path of PAGES) {
  test(`${path}: cancelling the approval makes no transfer, and the page says so`, async () => {
    await newAccount(path, `cancel${suffix(path)}@example.com`);
    await page.locator('#amount').fill('25');
    await page.locator('#transfer').click();
    await modal().waitFor(WAIT);
    await modal().locator('[data-action=cancel]').first().click();
    await page.locator('#status', { hasText: 'Transfer not made: you did not approve it.' }).waitFor(WAIT);
    await shot(`cancelled${suffix(path)}`);
    assert.equal(await modal().count(), 0, 'the modal closed');
    assert.equal(transferRequests.length, 1, 'no retry after cancel');
    assert.deepEqual(await ledger(), [], 'no transfer');
    assert.equal(await page.locator('#balance').textContent(), '€1,000.00');
    assert.equal(await page.locator('#transfer').isEnabled(), true, 'Transfer can be tried again');
  });
}

test('a phone (375 × 740), light and dark: the approval modal fits, no horizontal scroll, on either page', async () => {
  const payee = 'Bartholomew Featherstonehaugh-Cholmondeley of Saint-Rémy-de-Provence';
  await page.setViewportSize({ width: 375, height: 740 });
  try {
    await newAccount('/', 'phone@example.com');
    for (const path of PAGES) {
      for (const colorScheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme });
        await open(path);
        await page.locator('#balance', { hasText: '€' }).waitFor(WAIT);
        await page.locator('#to').fill(payee);
        await page.locator('#amount').fill('1234.5');
        await page.locator('#transfer').click();
        await modal().waitFor(WAIT);
        await modal().locator('input[name=password]').waitFor(WAIT);
        const where = `${path} (${colorScheme})`;
        assert.equal(
          await modal().locator('[part=action]').textContent(),
          `Approve: Send €1,234.50 to ${payee}`,
          `${where}: the whole summary`,
        );
        assert.deepEqual(await overflowX(page, 'reverify-verification-modal dialog[open]'), {
          page: false,
          element: false,
        });
        const box = await modal().boundingBox();
        assert.ok(
          box.x >= 0 && box.x + box.width <= 375,
          `${where}: the dialog within the screen (${JSON.stringify(box)})`,
        );
        const action = await modal().locator('[part=action]').boundingBox();
        assert.ok(
          action.x >= box.x && action.x + action.width <= box.x + box.width,
          `${where}: the summary within the dialog`,
        );
        await page.screenshot({ path: join(SHOTS, `page-phone-modal-${colorScheme}${suffix(path)}.png`) });
        await page.keyboard.press('Escape');
        await page.locator('#status', { hasText: 'Transfer not made' }).waitFor(WAIT);
      }
    }
    assert.deepEqual(await ledger(), [], 'nothing was approved, nothing sent');
  } finally {
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 720 });
  }
});
