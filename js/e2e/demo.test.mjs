// End-to-end: the demo app (Rust, embedded auth server, SQLite) driven in headless
// Chromium. The announcement's flow: sign up, enroll TOTP, the session goes stale, Transfer
// opens the modal, the code is entered, the transfer is retried once and made once.
//
// Needs the demo binary (cargo build -p reverify-demo; REVERIFY_DEMO_BIN to use another),
// the React page built (npm run build:demo) and /usr/bin/chromium (CHROMIUM to use another).
// Screenshots of each step: target/e2e-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const { chromium } = createRequire(import.meta.url)('playwright-core');
const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = process.env.REVERIFY_DEMO_BIN || join(root, 'target', 'debug', 'reverify-demo');
const SHOTS = join(root, 'target', 'e2e-screenshots');
// Transfers need a second-factor verification within the last 6 s (strict, shortened so
// that the test can make the session stale by waiting).
const WINDOW_MS = 6000;
const POLICY = JSON.stringify({ level: 'second_factor', afterMinutes: WINDOW_MS / 60000 });
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';

let server, base, work, context, page, secret;
let shot = 0;
let lastStep = 0;
const transferRequests = [];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function screenshot(name) {
  shot += 1;
  await page.screenshot({ path: join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

// RFC 6238, as an authenticator app computes it.
function totp(base32, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/[\s=]/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(msg).digest();
  const o = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

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

async function codeFromOutbox(email) {
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${base}/auth/v1/dev/outbox?email=${encodeURIComponent(email)}`);
    const m = (await r.json()).messages?.[0];
    if (m?.code) return m.code;
    await sleep(50);
  }
  throw new Error(`no code for ${email}`);
}

const modal = () => page.locator('reverify-verification-modal dialog[open]');

async function stale() {
  await sleep(WINDOW_MS + 500);
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'reverify-e2e-'));
  const port = await freePort();
  base = `http://localhost:${port}`;
  server = spawn(BIN, [], {
    env: {
      ...process.env,
      PORT: String(port),
      REVERIFY_DATABASE_URL: `sqlite://${join(work, 'demo.sqlite')}`,
      REVERIFY_DEMO_POLICY: POLICY,
      REVERIFY_LOG: 'warn',
      REVERIFY_PASSWORDS_ARGON2_MEMORY_KIB: '1024',
      REVERIFY_PASSWORDS_ARGON2_ITERATIONS: '1',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/api/ping`)).ok) break;
    } catch {}
    if (i > 300) throw new Error('the demo did not start');
    await sleep(100);
  }
  context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP localhost 127.0.0.1',
    ],
  });
  page = context.pages()[0] || (await context.newPage());
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/transfer') transferRequests.push(r);
  });
  page.on('pageerror', (e) => console.error('page error:', e));
  page.on('console', (m) => m.type() === 'error' && console.error('console:', m.text()));
});

after(async () => {
  await context?.close();
  server?.kill();
  if (work) rmSync(work, { recursive: true, force: true });
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
  await signUp.locator('[data-action=submit]').click();
  await page.locator('#balance', { hasText: '€1,000.00' }).waitFor();
  await screenshot('signed-in');

  const account = page.locator('reverify-account');
  await account.locator('[data-action=totp-start]').click();
  secret = (await account.locator('[data-testid=totp-secret]').textContent()).replace(/\s/g, '');
  await account.locator('[data-testid=totp-qr]').waitFor();
  await screenshot('totp-qr');
  await account.locator('input[name=code]').fill(await nextCode());
  await account.locator('[data-action=totp-confirm]').click();
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
  await modal().locator('[data-action=submit]').click();
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
  await modal().locator('[data-action=submit]').click();
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
  await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'code', null, { timeout: 5000 });
  await page.keyboard.type(code);
  await screenshot('keyboard-only');
  await page.keyboard.press('Enter');
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
        await modal().locator('[data-action=submit]').click();
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
  await page.getByText(`Hello ${EMAIL}`).waitFor();
  await stale();
  const code = await nextCode();
  transferRequests.length = 0;
  await page.locator('#transfer').click();
  await modal().waitFor();
  await screenshot('react-modal');
  await modal().locator('input[name=code]').fill(code);
  await modal().locator('[data-action=submit]').click();
  await page.locator('#status', { hasText: 'Sent.' }).waitFor();
  await screenshot('react-done');
  assert.equal(transferRequests.length, 2);
});
