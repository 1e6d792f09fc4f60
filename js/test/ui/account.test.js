// <reverify-account> in headless Chromium, against a scripted fake client.
// The element renders in an open shadow root: locators pierce it, page code uses shadowRoot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start } from '../harness/harness.js';
import { SECOND, COMPLETE, REVERIFY, err } from '../harness/fixtures.js';
import { freshPage, calls, focused } from './helpers.js';

let h;
before(async () => (h = await start()));
after(() => h.stop());

const me = (totp = null, passkeys = 1, codes = 0) => ({
  ok: {
    user: { id: 'user_1', email: 'ada@example.com', has_password: true },
    factors: { password: true, totp, backup_codes_remaining: codes, passkeys },
    session: { id: 'sess_1' },
    reverification: {},
  },
});
const ON = { status: 'confirmed', created_at: 1, confirmed_at: 2 };
const QR =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 21 21"><path d="M0 0h7v7H0zM14 0h7v7h-7zM0 14h7v7H0zM9 9h3v3H9z"/></svg>';
const CODES = ['k7m2-9xq4-hd3e', 'p2n8-4kd7-zq1m', 'a1b2-c3d4-e5f6', 'g7h8-i9j0-k1l2'];
const PASSKEYS = { ok: { passkeys: [{ id: 'pk_1', name: 'MacBook Touch ID', created_at: 1, last_used_at: null }] } };
const now = () => Math.floor(Date.now() / 1000);
const UA = {
  mac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  win: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0',
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
};
const SESSIONS = {
  ok: {
    sessions: [
      { id: 'sess_1', current: true, user_agent: UA.mac, ip: '203.0.113.7', last_active_at: now() },
      { id: 'sess_2', current: false, user_agent: UA.win, ip: '198.51.100.23', last_active_at: now() - 7200 },
      { id: 'sess_3', current: false, user_agent: UA.iphone, ip: '192.0.2.44', last_active_at: now() - 3 * 86400 },
    ],
  },
};

async function mount(script) {
  const page = await freshPage(h);
  await page.evaluate((script) => {
    window.client = fakeClient(script);
    window.events = [];
    document.addEventListener('reverify:account-deleted', (e) => events.push(e.type));
    const el = document.createElement('reverify-account');
    el.client = client;
    document.getElementById('host').append(el);
  }, script);
  await page.locator('reverify-account [data-step=account]').waitFor();
  return page;
}
const text = (page) => page.locator('reverify-account').evaluate((el) => el.shadowRoot.textContent);
const status = (page, hasText) => page.locator('reverify-account [role=status]').filter({ hasText }).waitFor();

test('TOTP enrollment: QR code and key, confirm with a code, backup codes shown once', async () => {
  const page = await mount({
    me: [me(), me(), me(ON, 1, 10)],
    listPasskeys: PASSKEYS,
    startTotp: {
      ok: { status: 'pending', secret: 'JBSWY3DPEHPK3PXP', uri: 'otpauth://totp/x', qr_svg: QR, digits: 6, period: 30 },
    },
    confirmTotp: [err('invalid_code', 422), { ok: { status: 'confirmed', backup_codes: CODES, token: 'jwt' } }],
  });
  assert.match(await text(page), /Ask for a code from an authenticator app/);
  await page.click('[data-action=totp-start]');
  const qr = page.locator('img[data-testid=totp-qr]');
  await qr.waitFor();
  assert.equal(await qr.getAttribute('alt'), 'QR code for your authenticator app');
  assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth > 0), 'the QR SVG renders as an image');
  assert.equal(await page.locator('[data-testid=totp-secret]').textContent(), 'JBSW Y3DP EHPK 3PXP');
  assert.equal(await focused(page), 'code', 'focus moves to the code field');
  await h.shot(page, 'account-totp-qr');
  await page.keyboard.type('000000'); // a complete code submits itself
  await page.getByRole('alert').filter({ hasText: 'Wrong code. Check it' }).waitFor();
  assert.equal(await qr.count(), 1, 'still enrolling after a wrong code');
  assert.equal(await focused(page), 'code');
  await page.keyboard.type('123456');
  const list = page.locator('[data-testid=backup-codes] li');
  await list.first().waitFor();
  assert.deepEqual(await list.allTextContents(), CODES);
  assert.equal(await focused(page), 'backup-codes');
  await h.shot(page, 'account-backup-codes');
  assert.deepEqual(await calls(page, 'confirmTotp'), [['000000'], ['123456']]);
  await page.click('[data-action=codes-done]');
  await page.locator('[data-testid=backup-codes]').waitFor({ state: 'detached' });
  assert.match(await text(page), /10 backup codes left/);
  assert.equal(await page.locator('[data-action=totp-remove]').count(), 1);
});

test('a stale session: the change goes through withReverification, the modal verifies, the call is retried', async () => {
  const page = await mount({
    me: me(),
    listPasskeys: PASSKEYS,
    changePassword: [REVERIFY, { ok: {} }],
    startVerification: { ok: SECOND },
    attemptVerification: { ok: COMPLETE },
  });
  await page.getByLabel('New password').fill('a new long passphrase');
  await page.getByLabel('Also sign out of my other devices').uncheck();
  await page.click('[data-action=password-change]');
  await page.getByRole('dialog').waitFor();
  await page.locator('dialog input[name=code]').waitFor();
  assert.equal(await page.locator('reverify-account [data-action=password-change]').getAttribute('aria-busy'), 'true');
  await h.shot(page, 'account-reverification-modal');
  await page.keyboard.type('123456');
  await status(page, 'Your password was changed.');
  const cp = await calls(page, 'changePassword');
  assert.equal(cp.length, 2, 'retried once after the verification');
  assert.deepEqual(cp[1], ['a new long passphrase', { signOutOtherSessions: false }]);
  assert.deepEqual(await calls(page, 'startVerification'), [['second_factor']]);
});

test('cancelling the modal is not an error: the button is usable and focused again', async () => {
  const page = await mount({
    me: me(),
    listPasskeys: PASSKEYS,
    startTotp: REVERIFY,
    startVerification: { ok: SECOND },
  });
  await page.click('[data-action=totp-start]');
  await page.locator('dialog input[name=code]').waitFor();
  await page.keyboard.press('Escape');
  await page.locator('reverify-verification-modal').waitFor({ state: 'detached' });
  await page.locator('reverify-account [data-action=totp-start]:not([disabled])').waitFor();
  assert.equal(await page.locator('reverify-account .note').textContent(), '');
  assert.deepEqual(await page.locator('reverify-account .fe').allTextContents(), ['', '']);
  assert.equal(await focused(page), 'totp-start');
  assert.equal((await calls(page, 'startTotp')).length, 1);
});

test('removing the authenticator app asks first', async () => {
  const page = await mount({ me: [me(ON, 0, 7), me()], listPasskeys: { ok: { passkeys: [] } } });
  assert.match(await text(page), /7 backup codes left/);
  await page.click('[data-action=totp-remove]');
  const yes = page.locator('[data-action=totp-remove][data-sure]');
  await yes.waitFor();
  assert.equal(await focused(page), 'totp-remove');
  assert.match(
    await yes.evaluate((b) => b.getRootNode().getElementById(b.getAttribute('aria-describedby')).textContent),
    /Remove the authenticator app\?/,
  );
  await page.click('[data-action=no]');
  assert.equal((await calls(page, 'removeTotp')).length, 0);
  await page.click('[data-action=totp-remove]');
  await page.keyboard.press('Enter');
  await status(page, 'The authenticator app was removed.');
  assert.equal((await calls(page, 'removeTotp')).length, 1);
  assert.match(await text(page), /Ask for a code from an authenticator app/);
});

test('new backup codes after confirming', async () => {
  const page = await mount({
    me: me(ON, 0, 2),
    listPasskeys: { ok: { passkeys: [] } },
    regenerateBackupCodes: { ok: { backup_codes: CODES } },
  });
  await page.click('[data-action=backup-regenerate]');
  await page.click('[data-action=backup-regenerate][data-sure]');
  await page.locator('[data-testid=backup-codes] li').first().waitFor();
  assert.equal(await page.locator('[data-testid=backup-codes] li').count(), 4);
});

test('passkeys: add, rename and delete (each through withReverification)', async () => {
  const page = await mount({
    me: me(null, 1),
    listPasskeys: [
      PASSKEYS,
      { ok: { passkeys: [...PASSKEYS.ok.passkeys, { id: 'pk_2', name: 'YubiKey', created_at: 2 }] } },
    ],
    registerPasskey: { ok: { id: 'pk_2' } },
    renamePasskey: [REVERIFY, { ok: {} }],
    deletePasskey: { ok: {} },
    startVerification: { ok: SECOND },
    attemptVerification: { ok: COMPLETE },
  });
  assert.match(await text(page), /MacBook Touch ID/);
  await page.getByLabel('Name for the new passkey (optional)').fill('YubiKey');
  await page.keyboard.press('Enter');
  await status(page, 'Passkey added.');
  assert.deepEqual(await calls(page, 'registerPasskey'), [['YubiKey']]);
  await h.shot(page, 'account-passkeys');
  await page.click('[data-action=passkey-rename][data-id=pk_2]');
  assert.equal(await focused(page), 'passkey_rename');
  await page.getByLabel('Passkey name', { exact: true }).fill('Blue key');
  await page.keyboard.press('Enter');
  await page.locator('dialog input[name=code]').waitFor();
  await page.keyboard.type('123456');
  await page.waitForFunction(() => client.calls.filter((c) => c[0] == 'renamePasskey').length == 2);
  assert.deepEqual((await calls(page, 'renamePasskey'))[1], ['pk_2', 'Blue key']);
  await page.locator('[data-action=passkey-delete][data-id=pk_1]').click();
  await page.locator('[data-action=passkey-delete][data-sure]').click();
  await page.waitForFunction(() => client.calls.some((c) => c[0] == 'deletePasskey'));
  assert.deepEqual(await calls(page, 'deletePasskey'), [['pk_1']]);
});

test('passkeys are not offered without WebAuthn', async () => {
  const page = await freshPage(h);
  await page.evaluate(() => {
    delete window.PublicKeyCredential;
    window.client = fakeClient({
      me: {
        ok: {
          user: { email: 'a@b.c' },
          factors: { password: true, totp: null, backup_codes_remaining: 0, passkeys: 0 },
        },
      },
    });
    const el = document.createElement('reverify-account');
    el.client = client;
    document.getElementById('host').append(el);
  });
  await page.locator('reverify-account [data-step=account]').waitFor();
  assert.equal(await page.locator('[data-action=passkey-add]').count(), 0);
  assert.equal((await calls(page, 'listPasskeys')).length, 0);
});

test('signed out: a client without a user says so and asks the server nothing', async () => {
  const page = await freshPage(h);
  await page.evaluate(() => {
    window.client = fakeClient({ user: null, me: { ok: {} } });
    const el = document.createElement('reverify-account');
    el.client = client;
    document.getElementById('host').append(el);
  });
  await page.locator('reverify-account [data-step=signed-out]').waitFor();
  assert.equal(await page.locator('reverify-account .lead').textContent(), 'You’re signed out.');
  assert.deepEqual(
    await page.evaluate(() => client.calls.map((c) => c[0])),
    [],
    'no me(), no listSessions(), no listPasskeys()',
  );
});

test('signed out found out by the server (me() answers 401 signed_out): says so too', async () => {
  const page = await freshPage(h);
  await page.evaluate(() => {
    window.client = fakeClient({ me: { error: { code: 'signed_out', status: 401 } } });
    const el = document.createElement('reverify-account');
    el.client = client;
    document.getElementById('host').append(el);
  });
  await page.locator('reverify-account .lead').filter({ hasText: 'You’re signed out.' }).waitFor();
});

test('the account follows the session: signed out elsewhere, then signed in again', async () => {
  const page = await mount({ user: { id: 'user_1', email: 'ada@example.com' }, me: me(), listSessions: SESSIONS });
  await page.evaluate(() => client.emit({ user: null, session: null, reason: 'session_ended' }));
  await page.locator('reverify-account [data-step=signed-out]').waitFor();
  await page.evaluate(() => client.emit({ user: { id: 'user_1', email: 'ada@example.com' }, reason: 'signed_in' }));
  await page.locator('reverify-account [data-step=account]').waitFor();
  assert.equal((await calls(page, 'me')).length, 2);
});

test('devices: browser and system, IP, last active, this device; sign out one after confirming', async () => {
  const page = await mount({
    me: me(),
    listSessions: SESSIONS,
    revokeSession: [REVERIFY, { ok: {} }],
    startVerification: { ok: SECOND },
    attemptVerification: { ok: COMPLETE },
  });
  const items = page.locator('[data-testid=devices] li');
  await items.first().waitFor();
  const rows = await items.allTextContents();
  assert.equal(rows.length, 3);
  assert.match(rows[0], /Chrome on macOS/);
  assert.match(rows[0], /203\.0\.113\.7/);
  assert.match(rows[0], /This device/);
  assert.match(rows[1], /Firefox on Windows/);
  assert.match(rows[1], /198\.51\.100\.23/);
  assert.match(rows[1], /2 hours ago/);
  assert.doesNotMatch(rows[1], /This device/);
  assert.match(rows[2], /Safari on iOS/);
  assert.equal(await items.nth(0).locator('[data-action=device-sign-out]').count(), 0, 'not this device');
  await items.nth(1).locator('[data-action=device-sign-out]').click();
  const yes = page.locator('[data-action=device-sign-out][data-sure]');
  await yes.waitFor();
  assert.match(
    await yes.evaluate((b) => b.getRootNode().getElementById(b.getAttribute('aria-describedby')).textContent),
    /Sign out of Firefox on Windows\?/,
  );
  assert.equal((await calls(page, 'revokeSession')).length, 0, 'nothing before the confirmation');
  await yes.click();
  // The server asks for a fresh verification first: withReverification opens the modal.
  await page.locator('dialog input[name=code]').fill('123456');
  await status(page, 'Signed out of Firefox on Windows.');
  assert.deepEqual(await calls(page, 'revokeSession'), [['sess_2'], ['sess_2']]);
});

test('devices: "Sign out of all other devices" signs out each other one', async () => {
  const page = await mount({ me: me(), listSessions: SESSIONS, revokeSession: { ok: {} } });
  await page.locator('[data-action=devices-sign-out]').click();
  await page.locator('[data-action=devices-sign-out][data-sure]').click();
  await status(page, 'Signed out of your other devices.');
  assert.deepEqual(await calls(page, 'revokeSession'), [['sess_2'], ['sess_3']]);
});

test('deleting the account asks first, then calls deleteAccount()', async () => {
  const page = await mount({ me: me(), deleteAccount: { ok: { deleted: true } } });
  await page.locator('[data-action=account-delete]').click();
  const yes = page.locator('[data-action=account-delete][data-sure]');
  await yes.waitFor();
  assert.match(
    await yes.evaluate((b) => b.getRootNode().getElementById(b.getAttribute('aria-describedby')).textContent),
    /Delete your account for good\?/,
  );
  assert.equal((await calls(page, 'deleteAccount')).length, 0);
  await page.locator('[data-action=no]').click();
  await page.locator('[data-action=account-delete]:not([data-sure])').click();
  await yes.click();
  await page.waitForFunction(() => events.length);
  assert.deepEqual(await calls(page, 'deleteAccount'), [[]]);
  assert.deepEqual(await page.evaluate(() => events), ['reverify:account-deleted']);
});

test('no errors in the page console', () => {
  assert.deepEqual(h.errors, []);
});
