// <reverify-account> in headless Chromium, against a scripted fake client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start } from '../harness/harness.js';
import { SECOND, COMPLETE, REVERIFY, err } from '../harness/fixtures.js';

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

async function mount(script) {
  const page = await h.page();
  await page.evaluate((script) => {
    window.client = fakeClient(script);
    const el = document.createElement('reverify-account');
    el.client = client;
    document.getElementById('host').append(el);
  }, script);
  await page.locator('reverify-account [data-step=account]').waitFor();
  return page;
}
const calls = (page, m) => page.evaluate((m) => client.calls.filter((c) => c[0] == m).map((c) => c.slice(1)), m);
const focused = (page) =>
  page.evaluate(
    () => document.activeElement.name || document.activeElement.dataset.action || document.activeElement.textContent,
  );

test('TOTP enrollment: QR code and key, confirm with a code, backup codes shown once', async () => {
  const page = await mount({
    me: [me(), me(ON, 1, 10)],
    listPasskeys: PASSKEYS,
    startTotp: {
      ok: { status: 'pending', secret: 'JBSWY3DPEHPK3PXP', uri: 'otpauth://totp/x', qr_svg: QR, digits: 6, period: 30 },
    },
    confirmTotp: [err('invalid_code', 422), { ok: { status: 'confirmed', backup_codes: CODES, token: 'jwt' } }],
  });
  assert.match(await page.locator('reverify-account').textContent(), /Not set up/);
  await page.click('[data-action=totp-start]');
  const qr = page.locator('img[data-testid=totp-qr]');
  await qr.waitFor();
  assert.equal(await qr.getAttribute('alt'), 'QR code for your authenticator app');
  assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth > 0), 'the QR SVG renders as an image');
  assert.equal(await page.locator('[data-testid=totp-secret]').textContent(), 'JBSW Y3DP EHPK 3PXP');
  assert.equal(await focused(page), 'code', 'focus moves to the code field');
  await h.shot(page, 'account-totp-qr');
  await page.keyboard.type('000000');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'That code is wrong' }).waitFor();
  assert.equal(await qr.count(), 1, 'still enrolling after a wrong code');
  assert.equal(await focused(page), 'code');
  await page.keyboard.type('123456');
  await page.keyboard.press('Enter');
  const list = page.locator('[data-testid=backup-codes] li');
  await list.first().waitFor();
  assert.deepEqual(await list.allTextContents(), CODES);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'backup-codes');
  await h.shot(page, 'account-backup-codes');
  assert.deepEqual(await calls(page, 'confirmTotp'), [['000000'], ['123456']]);
  await page.click('[data-action=codes-done]');
  await page.locator('[data-testid=backup-codes]').waitFor({ state: 'detached' });
  assert.match(await page.locator('reverify-account').textContent(), /10 backup codes left/);
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
  await page.getByLabel('Sign out my other devices').uncheck();
  await page.click('[data-action=password-change]');
  await page.getByRole('dialog').waitFor();
  await page.locator('dialog input[name=code]').waitFor();
  assert.equal(
    await page.evaluate(() => document.querySelector('[data-action=password-change]').getAttribute('aria-busy')),
    'true',
  );
  await h.shot(page, 'account-reverification-modal');
  await page.keyboard.type('123456');
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({ hasText: 'Password changed.' }).waitFor();
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
  await page.waitForFunction(() => !document.querySelector('[data-action=totp-start]').disabled);
  assert.equal(await page.locator('reverify-account [role=alert]').textContent(), '');
  assert.equal(await focused(page), 'totp-start');
  assert.equal((await calls(page, 'startTotp')).length, 1);
});

test('removing the authenticator app asks first', async () => {
  const page = await mount({ me: [me(ON, 0, 7), me()], listPasskeys: { ok: { passkeys: [] } } });
  assert.match(await page.locator('reverify-account').textContent(), /7 backup codes left/);
  await page.click('[data-action=totp-remove]');
  const yes = page.locator('[data-action=totp-remove][data-sure]');
  await yes.waitFor();
  assert.equal(await focused(page), 'totp-remove');
  assert.match(
    await yes.evaluate((b) => document.getElementById(b.getAttribute('aria-describedby')).textContent),
    /Remove the authenticator app\?/,
  );
  await page.click('[data-action=no]');
  assert.equal((await calls(page, 'removeTotp')).length, 0);
  await page.click('[data-action=totp-remove]');
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({ hasText: 'Authenticator app removed.' }).waitFor();
  assert.equal((await calls(page, 'removeTotp')).length, 1);
  assert.match(await page.locator('reverify-account').textContent(), /Not set up/);
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
  assert.match(await page.locator('reverify-account').textContent(), /MacBook Touch ID/);
  await page.getByLabel('Name for a new passkey (optional)').fill('YubiKey');
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({ hasText: 'Passkey added.' }).waitFor();
  assert.deepEqual(await calls(page, 'registerPasskey'), [['YubiKey']]);
  await h.shot(page, 'account-passkeys');
  await page.click('[data-action=passkey-rename][data-id=pk_2]');
  assert.equal(await focused(page), 'passkey_rename');
  await page.getByLabel('Passkey name', { exact: true }).fill('Blue key');
  await page.keyboard.press('Enter');
  await page.locator('dialog input[name=code]').waitFor();
  await page.keyboard.type('123456');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => client.calls.filter((c) => c[0] == 'renamePasskey').length == 2);
  assert.deepEqual((await calls(page, 'renamePasskey'))[1], ['pk_2', 'Blue key']);
  await page.locator('[data-action=passkey-delete][data-id=pk_1]').click();
  await page.locator('[data-action=passkey-delete][data-sure]').click();
  await page.waitForFunction(() => client.calls.some((c) => c[0] == 'deletePasskey'));
  assert.deepEqual(await calls(page, 'deletePasskey'), [['pk_1']]);
});

test('passkeys are not offered without WebAuthn', async () => {
  const page = await h.page();
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

test('signed out: says so', async () => {
  const page = await h.page();
  await page.evaluate(() => {
    window.client = fakeClient({ me: { error: { code: 'signed_out', status: 401 } } });
    const el = document.createElement('reverify-account');
    el.client = client;
    document.getElementById('host').append(el);
  });
  await page.getByRole('alert').filter({ hasText: 'You are signed out.' }).waitFor();
});

test('no errors in the page console', () => {
  assert.deepEqual(h.errors, []);
});
