// <reverify-verification-modal> in headless Chromium, against a scripted fake client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start } from '../harness/harness.js';
import { FIRST, SECOND, COMPLETE, err } from '../harness/fixtures.js';

let h;
before(async () => (h = await start()));
after(() => h.stop());

async function openModal(script, level = 'second_factor') {
  const page = await h.page();
  await page.evaluate(
    ({ script, level }) => {
      window.client = fakeClient(script);
      window.events = [];
      for (const type of ['reverify:complete', 'reverify:cancel'])
        document.addEventListener(type, (e) => events.push(e.type));
      document.getElementById('opener').focus();
      window.result = ui.openVerification({ level, client }).then(
        () => 'resolved',
        (e) => e.code,
      );
    },
    { script, level },
  );
  await page.getByRole('dialog').waitFor();
  return page;
}
const result = (page) => page.evaluate(() => window.result);
const calls = (page, m) => page.evaluate((m) => client.calls.filter((c) => c[0] == m).map((c) => c.slice(1)), m);
const focused = (page) =>
  page.evaluate(() => {
    const a = document.activeElement;
    return a.name || a.dataset.action || a.dataset.strategy || a.id || a.tagName;
  });
const gone = (page) => page.locator('reverify-verification-modal').waitFor({ state: 'detached' });

test('password user at needs_first_factor: password first, email code offered; Enter submits', async () => {
  const page = await openModal({ startVerification: { ok: FIRST }, attemptVerification: { ok: COMPLETE } });
  const dialog = page.getByRole('dialog', { name: 'Verify it’s you' });
  await dialog.waitFor();
  assert.equal(await dialog.getAttribute('aria-modal'), 'true');
  await page.locator('input[name=password]').waitFor();
  assert.equal(await focused(page), 'password');
  assert.equal(await page.getByLabel('Password').getAttribute('type'), 'password');
  const email = page.locator('[data-strategy=email_code]');
  assert.match(await email.textContent(), /a\*\*\*@example\.com/);
  await h.shot(page, 'modal-first-factor');
  assert.deepEqual(await calls(page, 'startVerification'), [['second_factor']]);
  await page.keyboard.type('correct horse');
  await page.keyboard.press('Enter');
  assert.equal(await result(page), 'resolved');
  assert.deepEqual(await calls(page, 'attemptVerification'), [
    ['ver_1', { strategy: 'password', password: 'correct horse' }],
  ]);
  await gone(page);
  assert.deepEqual(await page.evaluate(() => events), ['reverify:complete']);
  assert.equal(await focused(page), 'opener', 'focus goes back to the opener');
});

test('switching to the email code prepares it once, shows where it went, and can resend', async () => {
  const page = await openModal({ startVerification: { ok: FIRST }, attemptVerification: { ok: COMPLETE } });
  await page.click('[data-strategy=email_code]');
  await page.locator('input[name=code]').waitFor();
  assert.match(
    await page.locator('#' + (await page.getAttribute('dialog', 'aria-describedby'))).textContent(),
    /a\*\*\*@example\.com/,
  );
  assert.equal(await page.getAttribute('input[name=code]', 'autocomplete'), 'one-time-code');
  assert.deepEqual(await calls(page, 'prepareVerification'), [['ver_1', 'email_code']]);
  // Back to the password and again to the code: no second email.
  await page.click('[data-strategy=password]');
  await page.click('[data-strategy=email_code]');
  assert.equal((await calls(page, 'prepareVerification')).length, 1);
  await page.click('[data-action=resend]');
  await page.getByRole('status').filter({ hasText: 'We sent a new code.' }).waitFor();
  assert.equal((await calls(page, 'prepareVerification')).length, 2);
  await page.fill('input[name=code]', ' 123456 ');
  await page.click('[data-action=submit]');
  assert.equal(await result(page), 'resolved');
  assert.deepEqual((await calls(page, 'attemptVerification'))[0], [
    'ver_1',
    { strategy: 'email_code', code: '123456' },
  ]);
});

test('needs_second_factor: TOTP first, backup code by switching', async () => {
  const page = await openModal({ startVerification: { ok: SECOND }, attemptVerification: { ok: COMPLETE } });
  await page.locator('input[name=code]').waitFor();
  assert.equal(await page.getByLabel('Verification code').getAttribute('inputmode'), 'numeric');
  assert.equal(
    await page.locator('[data-strategy=totp]').count(),
    0,
    'the current strategy is not offered as a switch',
  );
  assert.equal(await page.locator('[data-strategy=password]').count(), 0);
  assert.match(await page.locator('dialog').textContent(), /authenticator app/);
  await h.shot(page, 'modal-second-factor');
  await page.click('[data-strategy=backup_code]');
  await page.getByLabel('Backup code').waitFor();
  assert.equal(await focused(page), 'code');
  assert.equal(await page.locator('[data-strategy=totp]').count(), 1);
  await page.keyboard.type('k7m2-9xq4-hd3e');
  await page.keyboard.press('Enter');
  assert.equal(await result(page), 'resolved');
  assert.deepEqual(await calls(page, 'attemptVerification'), [
    ['ver_1', { strategy: 'backup_code', code: 'k7m2-9xq4-hd3e' }],
  ]);
});

test('multi_factor: the first factor leads to the second in the same dialog', async () => {
  const page = await openModal(
    { startVerification: { ok: FIRST }, attemptVerification: [{ ok: SECOND }, { ok: COMPLETE }] },
    'multi_factor',
  );
  await page.fill('input[name=password]', 'pw');
  await page.keyboard.press('Enter');
  await page.locator('[data-step=needs_second_factor] input[name=code]').waitFor();
  assert.equal(await focused(page), 'code');
  await page.keyboard.type('123456');
  await page.keyboard.press('Enter');
  assert.equal(await result(page), 'resolved');
  assert.deepEqual((await calls(page, 'attemptVerification'))[1], ['ver_1', { strategy: 'totp', code: '123456' }]);
});

test('a wrong code is announced, the field is cleared, marked invalid and focused; then the right one works', async () => {
  const page = await openModal({
    startVerification: { ok: SECOND },
    attemptVerification: [err('invalid_code', 422), err('invalid_code', 422), { ok: COMPLETE }],
  });
  await page.fill('input[name=code]', '000000');
  await page.keyboard.press('Enter');
  const alert = page.getByRole('alert');
  await alert.filter({ hasText: 'That code is wrong' }).waitFor();
  const input = page.locator('input[name=code]');
  assert.equal(await input.inputValue(), '');
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  assert.equal(
    await page.evaluate(
      () => document.querySelector('#' + document.activeElement.getAttribute('aria-describedby')).role,
    ),
    'alert',
  );
  assert.equal(await focused(page), 'code');
  await h.shot(page, 'modal-wrong-code');
  // The same error again: the region is emptied first, so it is announced again.
  await page.evaluate(() => {
    window.alerts = [];
    new MutationObserver(() => alerts.push(document.querySelector('[role=alert]').textContent)).observe(
      document.querySelector('[role=alert]'),
      { childList: true, characterData: true, subtree: true },
    );
  });
  await page.keyboard.type('111111');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => alerts.length >= 2);
  assert.deepEqual(await page.evaluate(() => alerts.slice(0, 2).map((a) => !!a)), [false, true]);
  await page.keyboard.type('123456');
  await page.keyboard.press('Enter');
  assert.equal(await result(page), 'resolved');
});

test('incorrect password has its own message', async () => {
  const page = await openModal({
    startVerification: { ok: FIRST },
    attemptVerification: err('incorrect_password', 422),
  });
  await page.fill('input[name=password]', 'nope');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'Incorrect password' }).waitFor();
});

test('locked (423) says which method is locked and for how long, and points to another way', async () => {
  const page = await openModal({ startVerification: { ok: SECOND }, attemptVerification: err('locked', 423, 840) });
  await page.fill('input[name=code]', '000000');
  await page.keyboard.press('Enter');
  const alert = page.getByRole('alert');
  await alert.filter({ hasText: 'locked' }).waitFor();
  assert.match(
    await alert.textContent(),
    /the authenticator app is locked\. Try again in 14 minutes, or use another way/,
  );
  assert.equal(await page.locator('[data-strategy=backup_code]').count(), 1);
  await h.shot(page, 'modal-locked');
});

test('rate limited shows seconds; an unknown wait says so', async () => {
  const page = await openModal({
    startVerification: { ok: SECOND },
    attemptVerification: [err('rate_limited', 429, 30), err('locked', 423, null)],
  });
  await page.fill('input[name=code]', '000000');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'try again in 30 seconds' }).waitFor();
  await page.fill('input[name=code]', '000000');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'a little while' }).waitFor();
});

test('too many attempts ends this verification: "start over" begins a new one', async () => {
  const page = await openModal({
    startVerification: [{ ok: SECOND }, { ok: { ...SECOND, id: 'ver_2' } }],
    attemptVerification: [err('too_many_attempts', 429, 600), { ok: COMPLETE }],
  });
  await page.fill('input[name=code]', '000000');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'start over' }).waitFor();
  assert.equal(await page.locator('input[name=code]').count(), 0);
  assert.equal(await focused(page), 'restart');
  await h.shot(page, 'modal-too-many-attempts');
  await page.keyboard.press('Enter');
  await page.locator('input[name=code]').waitFor();
  assert.deepEqual(await calls(page, 'cancelVerification'), [['ver_1']]);
  assert.equal((await calls(page, 'startVerification')).length, 2);
  await page.keyboard.type('123456');
  await page.keyboard.press('Enter');
  assert.equal(await result(page), 'resolved');
  assert.equal((await calls(page, 'attemptVerification'))[1][0], 'ver_2');
});

test('an expired verification also offers to start over', async () => {
  const page = await openModal({
    startVerification: { ok: SECOND },
    attemptVerification: err('verification_expired', 410),
  });
  await page.fill('input[name=code]', '000000');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'expired' }).waitFor();
  await page.locator('[data-action=restart]').waitFor();
});

test('a verification that cannot start shows why and can be tried again', async () => {
  const page = await openModal({ startVerification: [err('rate_limited', 429, 20), { ok: SECOND }] });
  await page.getByRole('alert').filter({ hasText: 'Too many requests. Please try again in 20 seconds.' }).waitFor();
  assert.equal(await focused(page), 'restart');
  await page.keyboard.press('Enter');
  await page.locator('input[name=code]').waitFor();
  assert.equal(await page.locator('dialog [role=alert]').textContent(), '');
});

test('Escape cancels: rejects with reverification_cancelled, cancels on the server, restores focus', async () => {
  const page = await openModal({ startVerification: { ok: SECOND } });
  await page.locator('input[name=code]').waitFor();
  await page.keyboard.press('Escape');
  assert.equal(await result(page), 'reverification_cancelled');
  await gone(page);
  assert.deepEqual(await calls(page, 'cancelVerification'), [['ver_1']]);
  assert.deepEqual(await page.evaluate(() => events), ['reverify:cancel']);
  assert.equal(await focused(page), 'opener');
});

test('the close button cancels too', async () => {
  const page = await openModal({ startVerification: { ok: SECOND } });
  const close = page.getByRole('button', { name: 'Cancel' });
  await page.locator('input[name=code]').waitFor();
  await close.click();
  assert.equal(await result(page), 'reverification_cancelled');
  assert.deepEqual(await calls(page, 'cancelVerification'), [['ver_1']]);
});

test('the rejection is a ReverifyError from core with code reverification_cancelled', async () => {
  const page = await h.page();
  const r = await page.evaluate(async () => {
    const client = fakeClient({
      startVerification: {
        ok: { id: 'v', status: 'needs_second_factor', supported_second_factors: [{ strategy: 'totp' }] },
      },
    });
    const p = ui.openVerification({ level: 'second_factor', client });
    await new Promise((r) => setTimeout(r, 50));
    document.querySelector('[data-action=cancel]').click();
    const e = await p.catch((e) => e);
    return [
      e instanceof core.ReverifyError,
      e.code,
      e.code === core.REVERIFICATION_CANCELLED,
      !!document.querySelector('reverify-verification-modal'),
    ];
  });
  assert.deepEqual(r, [true, 'reverification_cancelled', true, false]);
});

test('focus is trapped: Tab and Shift+Tab cycle inside the dialog', async () => {
  const page = await openModal({ startVerification: { ok: SECOND } });
  await page.locator('input[name=code]').waitFor();
  const seen = [await focused(page)];
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('Tab');
    seen.push(await focused(page));
  }
  // code → Continue → backup code → close (×) → code → Continue
  assert.deepEqual(seen, ['code', 'submit', 'backup_code', 'cancel', 'code', 'submit']);
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await focused(page), 'backup_code', 'Shift+Tab from the first element wraps to the last');
  const inside = await page.evaluate(() => document.querySelector('dialog').contains(document.activeElement));
  assert.ok(inside);
});

test('keyboard only: open from a button, verify, and land back on it', async () => {
  const page = await h.page();
  await page.evaluate(async () => {
    const { SECOND, COMPLETE } = await import('/test/harness/fixtures.js');
    window.client = fakeClient({ startVerification: { ok: SECOND }, attemptVerification: { ok: COMPLETE } });
    const opener = document.getElementById('opener');
    opener.onclick = () =>
      (window.result = ui.openVerification({ level: 'second_factor', client }).then(() => 'resolved'));
  });
  await page.keyboard.press('Tab'); // to the opener (first focusable)
  assert.equal(await focused(page), 'opener');
  await page.keyboard.press('Enter');
  await page.locator('input[name=code]').waitFor();
  await page.waitForFunction(() => document.activeElement.name == 'code');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab'); // to "Use a backup code"
  await page.keyboard.press('Enter');
  await page.getByLabel('Backup code').waitFor();
  await page.keyboard.type('abcd-efgh-ijkl');
  await page.keyboard.press('Enter');
  assert.equal(await result(page), 'resolved');
  assert.equal(await focused(page), 'opener');
});

test('a running request shows a busy, disabled button and ignores a second submit', async () => {
  const page = await openModal({
    startVerification: { ok: SECOND },
    attemptVerification: { hold: 'attempt', ok: COMPLETE },
  });
  await page.fill('input[name=code]', '123456');
  await page.keyboard.press('Enter');
  const submit = page.locator('[data-action=submit]');
  await page.waitForSelector('[data-action=submit][aria-busy=true]');
  assert.ok(await submit.isDisabled());
  await page.keyboard.press('Enter');
  await h.shot(page, 'modal-busy');
  await page.evaluate(() => release('attempt'));
  assert.equal(await result(page), 'resolved');
  assert.equal((await calls(page, 'attemptVerification')).length, 1);
});

test('passkey: offered where WebAuthn exists, uses client.verifyWithPasskey; a dismissed prompt is explained', async () => {
  const page = await openModal({
    startVerification: {
      ok: {
        ...SECOND,
        supported_second_factors: [
          { strategy: 'totp' },
          { strategy: 'backup_code' },
          { strategy: 'passkey', requires_user_verification: true },
        ],
      },
    },
    verifyWithPasskey: [{ dom: 'NotAllowedError' }, { ok: COMPLETE }],
  });
  await page.click('[data-strategy=passkey]');
  assert.equal(await focused(page), 'passkey');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'cancelled or timed out' }).waitFor();
  await page.click('[data-action=passkey]');
  assert.equal(await result(page), 'resolved');
  assert.deepEqual(await calls(page, 'verifyWithPasskey'), [['ver_1'], ['ver_1']]);
});

test('passkey: hidden when the browser has no WebAuthn', async () => {
  const page = await h.page();
  await page.evaluate(() => delete window.PublicKeyCredential);
  await page.evaluate(() => {
    window.client = fakeClient({
      startVerification: {
        ok: {
          id: 'v',
          status: 'needs_second_factor',
          supported_second_factors: [{ strategy: 'passkey' }, { strategy: 'totp' }],
        },
      },
    });
    ui.openVerification({ level: 'second_factor', client }).catch(() => {});
  });
  await page.locator('input[name=code]').waitFor();
  assert.equal(await page.locator('[data-strategy=passkey],[data-action=passkey]').count(), 0);
});

test('the same element can be opened again right after it settles', async () => {
  const page = await h.page();
  const r = await page.evaluate(async () => {
    const { SECOND, COMPLETE } = await import('/test/harness/fixtures.js');
    const client = fakeClient({ startVerification: { ok: SECOND }, attemptVerification: { ok: COMPLETE } });
    const m = document.createElement('reverify-verification-modal');
    document.body.append(m);
    const first = m.open({ level: 'second_factor', client });
    await new Promise((r) => setTimeout(r, 50));
    m.querySelector('input[name=code]').value = '123456';
    m.querySelector('form').requestSubmit();
    await first;
    const second = m.open({ level: 'second_factor', client }); // synchronously after the first settled
    await new Promise((r) => setTimeout(r, 100));
    const open = m.querySelector('dialog')?.open;
    m.cancel();
    return [open, await second.catch((e) => e.code)];
  });
  assert.deepEqual(r, [true, 'reverification_cancelled']);
});

test('already complete at start: resolves without asking', async () => {
  const page = await h.page();
  const r = await page.evaluate(async () => {
    const client = fakeClient({ startVerification: { ok: { id: 'v', status: 'complete' } } });
    return ui.openVerification({ level: 'first_factor', client }).then(() => 'resolved');
  });
  assert.equal(r, 'resolved');
});

test('importing the UI registers the modal as the default prompt of withReverification', async () => {
  const page = await h.page();
  await page.evaluate(async () => {
    const { SECOND, COMPLETE, REVERIFY } = await import('/test/harness/fixtures.js');
    window.client = fakeClient({
      startVerification: { ok: SECOND },
      attemptVerification: { ok: COMPLETE },
      deleteAccount: [REVERIFY, { ok: { deleted: true } }],
    });
    window.result = core.withReverification(() => client.deleteAccount(), { client })();
  });
  await page.locator('input[name=code]').waitFor();
  await page.keyboard.type('123456');
  await page.keyboard.press('Enter');
  assert.deepEqual(await result(page), { deleted: true });
  assert.equal((await calls(page, 'deleteAccount')).length, 2);
});

test('setStrings replaces texts; CSS custom properties theme the elements', async () => {
  const page = await h.page();
  await page.evaluate(() => {
    ui.setStrings({ verifyTitle: 'Bestätigen Sie Ihre Identität', e_invalid_code: 'Falscher Code <b>' });
    document.documentElement.style.setProperty('--reverify-accent', 'rgb(200, 0, 100)');
    window.client = fakeClient({
      startVerification: {
        ok: { id: 'v', status: 'needs_second_factor', supported_second_factors: [{ strategy: 'totp' }] },
      },
      attemptVerification: { error: { code: 'invalid_code', status: 422 } },
    });
    ui.openVerification({ level: 'second_factor', client }).catch(() => {});
  });
  await page.getByRole('dialog', { name: 'Bestätigen Sie Ihre Identität' }).waitFor();
  assert.equal(
    await page.locator('[data-action=submit]').evaluate((b) => getComputedStyle(b).backgroundColor),
    'rgb(200, 0, 100)',
  );
  await page.fill('input[name=code]', '1');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'Falscher Code <b>' }).waitFor();
});

test('no errors in the page console', () => {
  assert.deepEqual(h.errors, []);
});
