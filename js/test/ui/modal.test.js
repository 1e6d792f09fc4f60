// <reverify-verification-modal> in headless Chromium, against a scripted fake client.
// The modal renders in an open shadow root: locators pierce it, page code uses shadowRoot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start } from '../harness/harness.js';
import { FIRST, SECOND, COMPLETE, err } from '../harness/fixtures.js';
import { freshPage, calls, focused } from './helpers.js';

let h;
before(async () => (h = await start()));
after(() => h.stop());

const USER = { id: 'user_1', email: 'ada@example.com' };
const WITH_PASSKEY = {
  ...SECOND,
  supported_second_factors: [
    { strategy: 'totp' },
    { strategy: 'backup_code' },
    { strategy: 'passkey', requires_user_verification: true },
  ],
};

/** Opens the modal with `openVerification` from the page's own button (which has the focus).
 * `before`: page code run first (e.g. localStorage, WebAuthn stubs). */
async function openModal(script, level = 'second_factor', { before, width } = {}) {
  const page = await freshPage(h);
  if (width) await page.setViewportSize({ width, height: 700 });
  if (before) await page.evaluate(before);
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
    { script: { user: USER, ...script }, level },
  );
  await page.getByRole('dialog').waitFor();
  return page;
}
const result = (page) => page.evaluate(() => window.result);
const gone = (page) => page.locator('reverify-verification-modal').waitFor({ state: 'detached' });
const note = (page) => page.locator('dialog .note');
const fieldError = (page) => page.locator('dialog input[name=code] + .fe, dialog input[name=password] + .fe');

test('password user at needs_first_factor: password first, email code offered; the dialog is modal; Enter submits', async () => {
  const page = await openModal({ startVerification: { ok: FIRST }, attemptVerification: { ok: COMPLETE } });
  const dialog = page.getByRole('dialog', { name: 'Verify it’s you' });
  await dialog.waitFor();
  await page.locator('input[name=password]').waitFor();
  // Native showModal(): the dialog matches :modal and the page behind it is inert.
  assert.ok(await page.locator('dialog').evaluate((d) => d.matches(':modal')));
  await page
    .locator('#opener')
    .click({ timeout: 300, trial: true })
    .then(
      () => assert.fail('the page behind the dialog is clickable'),
      () => {},
    );
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
  const described = await page.locator('dialog').getAttribute('aria-describedby');
  assert.match(await page.locator('#' + described).textContent(), /a\*\*\*@example\.com/);
  assert.equal(await page.getAttribute('input[name=code]', 'autocomplete'), 'one-time-code');
  assert.deepEqual(await calls(page, 'prepareVerification'), [['ver_1', 'email_code']]);
  // Back to the password and again to the code: no second email.
  await page.click('[data-strategy=password]');
  await page.click('[data-strategy=email_code]');
  assert.equal((await calls(page, 'prepareVerification')).length, 1);
  await page.click('[data-action=resend]');
  await page.getByRole('status').filter({ hasText: 'New code sent.' }).waitFor();
  assert.equal((await calls(page, 'prepareVerification')).length, 2);
  await page.locator('input[name=code]').fill(' 123456 '); // six digits: it submits itself
  assert.equal(await result(page), 'resolved');
  assert.deepEqual(await calls(page, 'attemptVerification'), [['ver_1', { strategy: 'email_code', code: '123456' }]]);
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
  assert.equal(await result(page), 'resolved');
  assert.deepEqual((await calls(page, 'attemptVerification'))[1], ['ver_1', { strategy: 'totp', code: '123456' }]);
});

test('a wrong code is announced by its field, which is cleared, marked invalid and focused; then the right one works', async () => {
  const page = await openModal({
    startVerification: { ok: SECOND },
    attemptVerification: [err('invalid_code', 422), err('invalid_code', 422), { ok: COMPLETE }],
  });
  await page.fill('input[name=code]', '000000');
  const alert = page.getByRole('alert').filter({ hasText: 'Wrong code. Check it' });
  await alert.waitFor();
  const input = page.locator('input[name=code]');
  assert.equal(await input.inputValue(), '');
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  assert.equal(
    await input.evaluate((i) => i.getRootNode().getElementById(i.getAttribute('aria-describedby')).role),
    'alert',
  );
  assert.equal(await focused(page), 'code');
  await h.shot(page, 'modal-wrong-code');
  // The same error again: the slot is emptied first, so it is announced again.
  await page.locator('dialog .fe').evaluate((slot) => {
    window.alerts = [];
    new MutationObserver(() => alerts.push(slot.textContent)).observe(slot, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  await page.keyboard.type('111111');
  await page.waitForFunction(() => alerts.length >= 2);
  assert.deepEqual(await page.evaluate(() => alerts.slice(0, 2).map((a) => !!a)), [false, true]);
  await page.keyboard.type('123456');
  assert.equal(await result(page), 'resolved');
});

test('errors appear by their field (next to the input, described by it) and do not move the layout', async () => {
  const page = await openModal({ startVerification: { ok: SECOND }, attemptVerification: err('invalid_code', 422) });
  const input = page.locator('dialog input[name=code]');
  await input.waitFor();
  const slot = await input.evaluate((i) => {
    const s = i.nextElementSibling;
    return {
      sibling: s?.classList.contains('fe'),
      inField: s?.parentElement == i.closest('.f'),
      described: i.getAttribute('aria-describedby').split(' ').includes(s?.id),
      role: s?.getAttribute('role'),
    };
  });
  assert.deepEqual(slot, { sibling: true, inField: true, described: true, role: 'alert' });
  const submit = page.locator('dialog [data-action=submit]');
  const y = (await submit.boundingBox()).y;
  await input.fill('000000');
  await page.locator('dialog .fe').filter({ hasText: 'Wrong code. Check it' }).waitFor();
  assert.equal((await submit.boundingBox()).y, y, 'the Continue button stays where it was');
  assert.equal(await note(page).textContent(), '', 'not shown at the top of the card');
});

test('incorrect password has its own message, under the password', async () => {
  const page = await openModal({
    startVerification: { ok: FIRST },
    attemptVerification: err('incorrect_password', 422),
  });
  await page.fill('input[name=password]', 'nope');
  await page.keyboard.press('Enter');
  await fieldError(page).filter({ hasText: 'Wrong password. Try again.' }).waitFor();
});

test('a TOTP code used a moment ago (422 code_already_used) says to wait for the next one', async () => {
  const page = await openModal({
    startVerification: { ok: SECOND },
    attemptVerification: err('code_already_used', 422),
  });
  await page.fill('input[name=code]', '123456');
  await fieldError(page).filter({ hasText: 'This code was just used. Wait for the next one in your app.' }).waitFor();
});

test('locked (423) on the TOTP moves to the backup code, saying which method is paused and for how long', async () => {
  const page = await openModal({ startVerification: { ok: SECOND }, attemptVerification: err('locked', 423, 840) });
  await page.fill('input[name=code]', '000000');
  await page.getByLabel('Backup code').waitFor();
  assert.match(
    await note(page).textContent(),
    /Too many wrong tries: your authenticator app is paused\. Try again in 14 minutes, or use another way\./,
  );
  assert.equal(await note(page).getAttribute('role'), 'alert');
  assert.equal(await page.locator('[data-strategy=totp]').count(), 0, 'the locked method is not offered');
  assert.equal(await focused(page), 'code');
  await h.shot(page, 'modal-locked');
});

test('rate limited shows seconds; a lock of unknown length says so', async () => {
  const page = await openModal({
    startVerification: { ok: SECOND },
    attemptVerification: [err('rate_limited', 429, 30), err('locked', 423, null)],
  });
  await page.fill('input[name=code]', '000000');
  await page.getByRole('alert').filter({ hasText: 'Too many requests. Try again in 30 seconds.' }).waitFor();
  await page.fill('input[name=code]', '000000');
  await note(page).filter({ hasText: 'Try again in a while' }).waitFor();
});

test('every method locked: says when to come back and offers to close', async () => {
  const page = await openModal({
    startVerification: { ok: { ...SECOND, supported_second_factors: [{ strategy: 'totp' }] } },
    attemptVerification: err('locked', 423, 120),
  });
  await page.fill('input[name=code]', '000000');
  await page.locator('[data-step=locked]').waitFor();
  assert.match(await page.locator('dialog .lead').textContent(), /Try again in 2 minutes/);
  await page.locator('.body [data-action=cancel]').click();
  assert.equal(await result(page), 'reverification_cancelled');
});

test('too many attempts ends this verification: "start again" begins a new one', async () => {
  const page = await openModal({
    startVerification: [{ ok: SECOND }, { ok: { ...SECOND, id: 'ver_2' } }],
    attemptVerification: [err('too_many_attempts', 429, 600), { ok: COMPLETE }],
  });
  await page.fill('input[name=code]', '000000');
  await page.getByRole('alert').filter({ hasText: 'Too many wrong tries. Start again.' }).waitFor();
  assert.equal(await page.locator('input[name=code]').count(), 0);
  assert.equal(await focused(page), 'restart');
  await h.shot(page, 'modal-too-many-attempts');
  await page.keyboard.press('Enter');
  await page.locator('input[name=code]').waitFor();
  assert.deepEqual(await calls(page, 'cancelVerification'), [['ver_1']]);
  assert.equal((await calls(page, 'startVerification')).length, 2);
  await page.keyboard.type('123456');
  assert.equal(await result(page), 'resolved');
  assert.equal((await calls(page, 'attemptVerification'))[1][0], 'ver_2');
});

test('an expired verification also offers to start again', async () => {
  const page = await openModal({
    startVerification: { ok: SECOND },
    attemptVerification: err('verification_expired', 410),
  });
  await page.fill('input[name=code]', '000000');
  await page.getByRole('alert').filter({ hasText: 'This took too long. Start again.' }).waitFor();
  await page.locator('[data-action=restart]').waitFor();
});

test('a verification that cannot start shows why and can be tried again', async () => {
  const page = await openModal({ startVerification: [err('rate_limited', 429, 20), { ok: SECOND }] });
  await note(page).filter({ hasText: 'Too many requests. Try again in 20 seconds.' }).waitFor();
  assert.equal(await focused(page), 'restart');
  await page.keyboard.press('Enter');
  await page.locator('input[name=code]').waitFor();
  assert.equal(await note(page).textContent(), '');
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

test('focus goes back to an opener inside another shadow root', async () => {
  const page = await freshPage(h);
  await page.evaluate((SECOND) => {
    const host = document.getElementById('host');
    host.attachShadow({ mode: 'open' }).innerHTML = '<button id="inner">Transfer</button>';
    window.client = fakeClient({ startVerification: { ok: SECOND } });
    host.shadowRoot.getElementById('inner').focus();
    window.result = ui.openVerification({ level: 'second_factor', client }).catch((e) => e.code);
  }, SECOND);
  await page.locator('dialog input[name=code]').waitFor();
  await page.keyboard.press('Escape');
  assert.equal(await result(page), 'reverification_cancelled');
  assert.equal(await focused(page), 'inner');
});

test('the close button cancels too', async () => {
  const page = await openModal({ startVerification: { ok: SECOND } });
  const close = page.getByRole('button', { name: 'Close' });
  await page.locator('input[name=code]').waitFor();
  await close.click();
  assert.equal(await result(page), 'reverification_cancelled');
  assert.deepEqual(await calls(page, 'cancelVerification'), [['ver_1']]);
});

test('the rejection is a ReverifyError from core with code reverification_cancelled', async () => {
  const page = await freshPage(h);
  const r = await page.evaluate(async () => {
    const client = fakeClient({
      startVerification: {
        ok: { id: 'v', status: 'needs_second_factor', supported_second_factors: [{ strategy: 'totp' }] },
      },
    });
    const p = ui.openVerification({ level: 'second_factor', client });
    await new Promise((r) => setTimeout(r, 50));
    document.querySelector('reverify-verification-modal').shadowRoot.querySelector('[data-action=cancel]').click();
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

test('the session ending: a 401 signed_out answer closes the modal and rejects with signed_out', async () => {
  const page = await openModal({ startVerification: { ok: SECOND }, attemptVerification: err('signed_out', 401) });
  await page.fill('input[name=code]', '123456');
  assert.equal(await result(page), 'signed_out');
  await gone(page);
  assert.deepEqual(await page.evaluate(() => events), ['reverify:cancel']);
});

test('the session ending elsewhere (the client’s user becomes null) closes the modal the same way', async () => {
  const page = await openModal({ startVerification: { ok: SECOND } });
  await page.locator('input[name=code]').waitFor();
  await page.evaluate(() => client.emit({ user: null, session: null, reason: 'session_ended' }));
  assert.equal(await result(page), 'signed_out');
  await gone(page);
  const e = await page.evaluate(async () => {
    const p = ui.openVerification({ level: 'second_factor', client: fakeClient({ user: { email: 'a@b.c' } }) });
    await new Promise((r) => setTimeout(r, 20));
    document.querySelector('reverify-verification-modal').cancel();
    return p.catch((e) => [e instanceof core.ReverifyError, e.code]);
  });
  assert.deepEqual(e, [true, 'reverification_cancelled']);
  assert.equal(await page.evaluate(() => client.listeners()), 0, 'the closed modal stops listening');
});

test('the modal names the app (from environment()) and the account; a long email wraps at 320 px', async () => {
  const email = 'a.very.long.address.for.testing.wrapping.' + 'x'.repeat(7) + '@example.com';
  assert.equal(email.length, 60);
  const page = await openModal(
    {
      user: { id: 'user_1', email },
      environment: { ok: { app: { name: 'Acme Bank', logo_url: null } } },
      startVerification: { ok: SECOND },
    },
    'second_factor',
    { width: 320 },
  );
  await page.locator('input[name=code]').waitFor();
  assert.equal(await page.locator('dialog [part=app]').textContent(), 'Acme Bank');
  const who = page.locator('dialog [part=identity]');
  assert.equal(await who.textContent(), email[0].toUpperCase() + email);
  const sizes = await page.locator('dialog').evaluate((d) => ({
    dialog: [d.scrollWidth, d.clientWidth],
    page: document.documentElement.scrollWidth,
    right: d.getBoundingClientRect().right,
  }));
  assert.ok(sizes.dialog[0] <= sizes.dialog[1], `the dialog scrolls sideways: ${sizes.dialog}`);
  assert.ok(sizes.page <= 320, `the page is ${sizes.page} px wide`);
  assert.ok(sizes.right <= 320);
  const lines = await who.locator('span:not(.av)').evaluate((s) => {
    const r = document.createRange();
    r.selectNodeContents(s);
    return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size;
  });
  assert.ok(lines > 1, 'the email wraps');
  await h.shot(page, 'modal-phone-long-email');
});

test('method order: the strongest first (a passkey), else the one last used in this browser', async () => {
  const list = {
    ...FIRST,
    supported_first_factors: [...FIRST.supported_first_factors, { strategy: 'passkey' }],
  };
  const stub = () => (window.PublicKeyCredential ||= function () {});
  const page = await openModal({ startVerification: { ok: list } }, 'first_factor', { before: stub });
  await page.locator('dialog [data-action=passkey]').waitFor();
  assert.equal(await page.locator('dialog input').count(), 0);
  assert.equal(await focused(page), 'passkey');
  const again = await openModal(
    { startVerification: { ok: list }, attemptVerification: { ok: COMPLETE } },
    'first_factor',
    {
      before: () => {
        window.PublicKeyCredential ||= function () {};
        localStorage['reverify.method'] = 'password';
      },
    },
  );
  await again.locator('dialog input[name=password]').waitFor();
  assert.equal(await again.locator('dialog [data-strategy=passkey]').count(), 1);
  // A success remembers the method.
  await again.click('dialog [data-strategy=email_code]');
  await again.locator('dialog input[name=code]').fill('123456');
  assert.equal(await result(again), 'resolved');
  assert.equal(await again.evaluate(() => localStorage['reverify.method']), 'email_code');
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
  const inside = await page.evaluate(() => {
    const m = document.querySelector('reverify-verification-modal');
    return document.activeElement == m && m.shadowRoot.querySelector('dialog').contains(m.shadowRoot.activeElement);
  });
  assert.ok(inside);
});

test('keyboard only: open from a button, verify, and land back on it', async () => {
  const page = await freshPage(h);
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
  await page.waitForFunction(
    () => document.querySelector('reverify-verification-modal')?.shadowRoot.activeElement?.name == 'code',
  );
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
  const submit = page.locator('[data-action=submit]');
  await page.waitForSelector('[data-action=submit][aria-busy=true]');
  assert.ok(await submit.isDisabled());
  await page.keyboard.press('Enter');
  await h.shot(page, 'modal-busy');
  await page.evaluate(() => release('attempt'));
  assert.equal(await result(page), 'resolved');
  assert.equal((await calls(page, 'attemptVerification')).length, 1);
});

test('code entry: one-time-code autofill, numeric keyboard, digits only; a pasted "123 456" submits once', async () => {
  const page = await openModal({
    startVerification: { ok: SECOND },
    attemptVerification: { hold: 'attempt', ok: COMPLETE },
  });
  const input = page.locator('dialog input[name=code]');
  await input.waitFor();
  assert.equal(await input.getAttribute('autocomplete'), 'one-time-code');
  assert.equal(await input.getAttribute('inputmode'), 'numeric');
  await page.keyboard.type('12a');
  assert.equal(await input.inputValue(), '12', 'letters are dropped');
  await input.fill('');
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.evaluate(() => navigator.clipboard.writeText('123 456'));
  await input.focus();
  await page.keyboard.press('ControlOrMeta+V');
  await page.waitForSelector('[data-action=submit][aria-busy=true]');
  assert.equal(await input.inputValue(), '123456');
  await page.keyboard.press('Enter');
  await page.evaluate(() => release('attempt'));
  assert.equal(await result(page), 'resolved');
  assert.deepEqual(await calls(page, 'attemptVerification'), [['ver_1', { strategy: 'totp', code: '123456' }]]);
});

test('passkey: offered first where WebAuthn exists, uses client.verifyWithPasskey; a dismissed prompt is explained', async () => {
  const page = await openModal({
    startVerification: { ok: WITH_PASSKEY },
    verifyWithPasskey: [{ dom: 'NotAllowedError' }, { ok: COMPLETE }],
  });
  await page.locator('dialog [data-action=passkey]').waitFor();
  assert.equal(await focused(page), 'passkey');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'The passkey was cancelled or timed out.' }).waitFor();
  await page.click('[data-action=passkey]');
  assert.equal(await result(page), 'resolved');
  assert.deepEqual(await calls(page, 'verifyWithPasskey'), [['ver_1'], ['ver_1']]);
});

test('passkey: hidden when the browser has no WebAuthn', async () => {
  const page = await freshPage(h);
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
  const page = await freshPage(h);
  const r = await page.evaluate(async () => {
    const { SECOND, COMPLETE } = await import('/test/harness/fixtures.js');
    const client = fakeClient({ startVerification: { ok: SECOND }, attemptVerification: { ok: COMPLETE } });
    const m = document.createElement('reverify-verification-modal');
    document.body.append(m);
    const first = m.open({ level: 'second_factor', client });
    await new Promise((r) => setTimeout(r, 50));
    m.shadowRoot.querySelector('input[name=code]').value = '123456';
    m.shadowRoot.querySelector('form').requestSubmit();
    await first;
    const second = m.open({ level: 'second_factor', client }); // synchronously after the first settled
    await new Promise((r) => setTimeout(r, 100));
    const open = m.shadowRoot.querySelector('dialog')?.open;
    m.cancel();
    return [open, await second.catch((e) => e.code)];
  });
  assert.deepEqual(r, [true, 'reverification_cancelled']);
});

test('already complete at start: resolves without asking', async () => {
  const page = await freshPage(h);
  const r = await page.evaluate(async () => {
    const client = fakeClient({ startVerification: { ok: { id: 'v', status: 'complete' } } });
    return ui.openVerification({ level: 'first_factor', client }).then(() => 'resolved');
  });
  assert.equal(r, 'resolved');
});

test('importing the UI registers the modal as the default prompt of withReverification', async () => {
  const page = await freshPage(h);
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
  assert.deepEqual(await result(page), { deleted: true });
  assert.equal((await calls(page, 'deleteAccount')).length, 2);
});

const TRANSFER = {
  type: 'transfer',
  summary: 'Send €25.00 to Bob',
  fields: { amount_cents: '2500', currency: 'EUR', payee: 'Bob' },
  digest: '3bq1',
};

/** Opens the modal for an action, as the default prompt does. */
async function openApproval(action, script = {}) {
  const page = await freshPage(h);
  await page.evaluate(
    ({ action, script }) => {
      window.client = fakeClient(script);
      window.result = ui.openVerification({ level: 'second_factor', action, client }).then(
        () => 'resolved',
        (e) => e.code,
      );
    },
    {
      action,
      script: { user: USER, startVerification: { ok: SECOND }, attemptVerification: { ok: COMPLETE }, ...script },
    },
  );
  await page.locator('dialog input[name=code]').waitFor();
  return page;
}

test('approving an action: the summary above the prompt, the title and lead say so, the verification is for it', async () => {
  const page = await openApproval(TRANSFER);
  const dialog = page.getByRole('dialog', { name: 'Approve this action' });
  await dialog.waitFor();
  const box = page.locator('dialog [part=action]');
  assert.equal(await box.textContent(), 'Approve: Send €25.00 to Bob');
  // Above the factor prompt: before the lead and the form in document order.
  assert.ok(
    await box.evaluate((b) => {
      const root = b.getRootNode();
      const after = (x) => !!(b.compareDocumentPosition(x) & Node.DOCUMENT_POSITION_FOLLOWING);
      return after(root.querySelector('.lead')) && after(root.querySelector('form'));
    }),
  );
  assert.match(
    await page.locator('dialog .lead').textContent(),
    /approves this action only, once\..*authenticator app/,
  );
  // The dialog's description names the action first.
  const ids = (await page.locator('dialog').getAttribute('aria-describedby')).split(' ');
  assert.equal(await page.locator('#' + ids[0]).textContent(), 'Approve: Send €25.00 to Bob');
  assert.deepEqual(await calls(page, 'startVerification'), [['second_factor', TRANSFER]]);
  await h.shot(page, 'modal-approval');
  await page.keyboard.type('123456');
  assert.equal(await result(page), 'resolved');
  await gone(page);
});

test('an action summary is shown as text, never as HTML', async () => {
  const summary = 'Pay <img src=x onerror="window.pwned=1"> & <b>Bob</b>';
  const page = await openApproval({ type: 'transfer', summary });
  assert.equal(await page.locator('dialog [part=action]').textContent(), 'Approve: ' + summary);
  assert.equal(await page.locator('dialog img, dialog b').count(), 0);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await page.evaluate(() => window.pwned), undefined);
});

test('cancelling an approval rejects with reverification_cancelled and drops the verification', async () => {
  const page = await openApproval(TRANSFER);
  await page.keyboard.press('Escape');
  assert.equal(await result(page), 'reverification_cancelled');
  assert.deepEqual(await calls(page, 'cancelVerification'), [['ver_1']]);
  await gone(page);
});

test('starting again after too many tries starts a verification for the same action', async () => {
  const page = await openApproval(TRANSFER, { attemptVerification: err('too_many_attempts', 429) });
  await page.keyboard.type('000000');
  await page.click('[data-action=restart]');
  await page.locator('dialog input[name=code]').waitFor();
  assert.equal(await page.locator('dialog [part=action]').textContent(), 'Approve: Send €25.00 to Bob');
  assert.deepEqual(await calls(page, 'startVerification'), [
    ['second_factor', TRANSFER],
    ['second_factor', TRANSFER],
  ]);
});

test('without an action the modal is unchanged: no action box, the usual title', async () => {
  const page = await openModal({ startVerification: { ok: SECOND } });
  await page.getByRole('dialog', { name: 'Verify it’s you' }).waitFor();
  await page.locator('input[name=code]').waitFor();
  assert.equal(await page.locator('dialog [part=action]').count(), 0);
  assert.doesNotMatch(await page.locator('dialog .lead').textContent(), /approves/);
});

test('withReverification opens the modal for the action a 403 names, and retries once after approval', async () => {
  const page = await freshPage(h);
  await page.evaluate(async (action) => {
    const { SECOND, COMPLETE } = await import('/test/harness/fixtures.js');
    window.client = fakeClient({
      user: { email: 'ada@example.com' },
      startVerification: { ok: SECOND },
      attemptVerification: { ok: COMPLETE },
    });
    let n = 0;
    const body = {
      clerk_error: {
        type: 'forbidden',
        reason: 'reverification-error',
        metadata: { reverification: { level: 'second_factor', afterMinutes: 10 }, action },
      },
    };
    window.result = core
      .withReverification(
        async () => (++n === 1 ? new Response(JSON.stringify(body), { status: 403 }) : new Response('done')),
        { client },
      )()
      .then((r) => r.text())
      .then((t) => [t, n]);
  }, TRANSFER);
  await page.locator('dialog input[name=code]').waitFor();
  assert.equal(await page.locator('dialog [part=action]').textContent(), 'Approve: Send €25.00 to Bob');
  assert.deepEqual(await calls(page, 'startVerification'), [['second_factor', TRANSFER]]);
  await page.keyboard.type('123456');
  assert.deepEqual(await result(page), ['done', 2]);
});

test('setStrings replaces texts; CSS custom properties theme the elements', async () => {
  const page = await freshPage(h);
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
