// <reverify-sign-in> and <reverify-sign-up> in headless Chromium, against a scripted fake client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start } from '../harness/harness.js';
import { SIGNED_IN, err } from '../harness/fixtures.js';

let h;
before(async () => (h = await start()));
after(() => h.stop());

const NEEDS_2FA = {
  id: 'sia_1',
  status: 'needs_second_factor',
  supported_second_factors: [{ strategy: 'totp' }, { strategy: 'backup_code' }],
  expires_at: 2000000000,
};

async function mount(tag, script, attrs = '') {
  const page = await h.page();
  await page.evaluate(
    ({ tag, script, attrs }) => {
      window.client = fakeClient(script);
      window.events = [];
      for (const type of ['reverify:signed-in', 'reverify:signed-up'])
        document.addEventListener(type, (e) => events.push([e.type, e.detail]));
      document.getElementById('host').innerHTML = `<${tag} ${attrs}></${tag}>`;
      document.querySelector(tag).client = client;
    },
    { tag, script, attrs },
  );
  return page;
}
const calls = (page, m) => page.evaluate((m) => client.calls.filter((c) => c[0] == m).map((c) => c.slice(1)), m);
const focused = (page) =>
  page.evaluate(
    () => document.activeElement.name || document.activeElement.dataset.action || document.activeElement.tagName,
  );
const events = (page) => page.waitForFunction(() => events.length && events).then((x) => x.jsonValue());

test('sign-in: password, then the second factor (TOTP), then signed in', async () => {
  const page = await mount('reverify-sign-in', {
    signInWithPassword: { ok: NEEDS_2FA },
    attemptSignIn: { ok: SIGNED_IN },
  });
  assert.equal(await page.getByLabel('Email').getAttribute('autocomplete'), 'username');
  assert.equal(await page.getByLabel('Password').getAttribute('autocomplete'), 'current-password');
  await h.shot(page, 'sign-in');
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('correct horse');
  await page.keyboard.press('Enter');
  await page.locator('[data-step=second] input[name=code]').waitFor();
  assert.equal(await page.locator('reverify-sign-in h2').textContent(), 'Two-step verification');
  assert.equal(await focused(page), 'code');
  await h.shot(page, 'sign-in-second-factor');
  await page.keyboard.type('123456');
  await page.keyboard.press('Enter');
  const ev = await events(page);
  assert.equal(ev[0][0], 'reverify:signed-in');
  assert.equal(ev[0][1].user.email, 'ada@example.com');
  assert.deepEqual(await calls(page, 'signInWithPassword'), [['ada@example.com', 'correct horse']]);
  assert.deepEqual(await calls(page, 'attemptSignIn'), [['sia_1', { code: '123456', strategy: 'totp' }]]);
  await page.getByRole('status').filter({ hasText: 'You are signed in.' }).waitFor();
});

test('sign-in: the second step can use a backup code; a wrong one is announced', async () => {
  const page = await mount('reverify-sign-in', {
    signInWithPassword: { ok: NEEDS_2FA },
    attemptSignIn: [err('invalid_code', 422), { ok: SIGNED_IN }],
  });
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('pw');
  await page.click('[data-action=submit]');
  await page.click('[data-strategy=backup_code]');
  await page.getByLabel('Backup code').fill('wrong-code-0000');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'That code is wrong' }).waitFor();
  assert.equal(await page.getByLabel('Backup code').getAttribute('aria-invalid'), 'true');
  await page.keyboard.type('k7m2-9xq4-hd3e');
  await page.keyboard.press('Enter');
  await events(page);
  assert.deepEqual((await calls(page, 'attemptSignIn'))[1], [
    'sia_1',
    { code: 'k7m2-9xq4-hd3e', strategy: 'backup_code' },
  ]);
});

test('sign-in: wrong email or password keeps the email and focuses the cleared password', async () => {
  const page = await mount('reverify-sign-in', { signInWithPassword: err('invalid_credentials', 401) });
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('nope');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor();
  assert.equal(await page.getByLabel('Email').inputValue(), 'ada@example.com');
  assert.equal(await page.getByLabel('Password').inputValue(), '');
  assert.equal(await focused(page), 'password');
});

test('sign-in: a locked password says so and for how long', async () => {
  const page = await mount('reverify-sign-in', { signInWithPassword: err('locked', 423, 900) });
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('pw');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'your password is locked. Try again in 15 minutes' }).waitFor();
  await h.shot(page, 'sign-in-locked');
});

test('sign-in: by emailed code, keyboard only', async () => {
  const page = await mount('reverify-sign-in', {
    signInWithEmailCode: { ok: { id: 'sia_2', status: 'needs_email_code', email: 'a***@example.com' } },
    attemptSignIn: { ok: SIGNED_IN },
  });
  await page.keyboard.press('Tab'); // the page's own button
  for (let i = 0; i < 4; i++) await page.keyboard.press('Tab'); // email, password, submit, "email me a code"
  assert.equal(await page.evaluate(() => document.activeElement.dataset.strategy), 'email_code');
  await page.keyboard.press('Enter');
  await page.locator('[data-step=email]').waitFor();
  assert.equal(await focused(page), 'email');
  assert.equal(await page.locator('input[name=password]').count(), 0);
  await page.keyboard.type('ada@example.com');
  await page.keyboard.press('Enter');
  await page.getByText('We sent a code to a***@example.com.').waitFor();
  assert.equal(await focused(page), 'code');
  await page.keyboard.type('246810');
  await page.keyboard.press('Enter');
  await events(page);
  assert.deepEqual(await calls(page, 'signInWithEmailCode'), [['ada@example.com']]);
  assert.deepEqual(await calls(page, 'attemptSignIn'), [['sia_2', { code: '246810', strategy: 'email_code' }]]);
});

test('sign-in: an expired flow goes back to the start with the message', async () => {
  const page = await mount('reverify-sign-in', {
    signInWithPassword: { ok: NEEDS_2FA },
    attemptSignIn: err('sign_in_expired', 410),
  });
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('pw');
  await page.keyboard.press('Enter');
  await page.locator('input[name=code]').fill('123456');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'This sign-in has expired' }).waitFor();
  await page.locator('[data-step=password]').waitFor();
  assert.equal(await page.getByLabel('Email').inputValue(), 'ada@example.com');
});

test('sign-in: passkey button calls signInWithPasskey; `no-passkey` hides it', async () => {
  const page = await mount('reverify-sign-in', { signInWithPasskey: { ok: SIGNED_IN } });
  await page.click('[data-action=passkey]');
  await events(page);
  assert.equal((await calls(page, 'signInWithPasskey')).length, 1);
  const other = await mount('reverify-sign-in', {}, 'no-passkey');
  assert.equal(await other.locator('[data-action=passkey]').count(), 0);
  assert.equal(await other.locator('input[name=password]').count(), 1);
});

test('sign-in: a busy button while the request runs', async () => {
  const page = await mount('reverify-sign-in', { signInWithPassword: { hold: 'signin', ok: SIGNED_IN } });
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('pw');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-action=submit][aria-busy=true][disabled]');
  await page.keyboard.press('Enter');
  await page.evaluate(() => release('signin'));
  await events(page);
  assert.equal((await calls(page, 'signInWithPassword')).length, 1);
});

test('sign-in: a client set before the element is defined still works', async () => {
  const page = await h.page();
  const step = await page.evaluate(async () => {
    const el = document.createElement('reverify-sign-in-later');
    el.client = fakeClient({});
    document.body.append(el);
    customElements.define('reverify-sign-in-later', class extends ui.SignIn {});
    return el.querySelector('.rv-card')?.dataset.step;
  });
  assert.equal(step, 'password');
});

test('sign-up: email and password, then the emailed code', async () => {
  const page = await mount('reverify-sign-up', {
    signUp: { ok: { id: 'sua_1', status: 'needs_email_code', email: 'a***@example.com', expires_at: 2000000000 } },
    attemptSignUp: [err('invalid_code', 422), { ok: SIGNED_IN }],
  });
  assert.equal(await page.getByLabel('Password').getAttribute('autocomplete'), 'new-password');
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('a long passphrase');
  await page.keyboard.press('Enter');
  await page.getByText('We sent a code to a***@example.com.').waitFor();
  await page.keyboard.type('000000');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'That code is wrong' }).waitFor();
  await h.shot(page, 'sign-up-code');
  await page.keyboard.type('123456');
  await page.keyboard.press('Enter');
  const ev = await events(page);
  assert.equal(ev[0][0], 'reverify:signed-up');
  assert.deepEqual(await calls(page, 'signUp'), [['ada@example.com', 'a long passphrase']]);
  assert.deepEqual(await calls(page, 'attemptSignUp'), [
    ['sua_1', '000000'],
    ['sua_1', '123456'],
  ]);
  await page.getByRole('status').filter({ hasText: 'Your account is ready.' }).waitFor();
});

test('sign-up: a too short password is explained and the field refocused', async () => {
  const page = await mount('reverify-sign-up', { signUp: err('password_too_short', 422) });
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('short');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'That password is too short.' }).waitFor();
  assert.equal(await focused(page), 'password');
});

test('every input has a label', async () => {
  const page = await mount('reverify-sign-in', {});
  await page.evaluate(() => {
    for (const tag of ['reverify-sign-up']) {
      const el = document.createElement(tag);
      el.client = client;
      document.getElementById('host').append(el);
    }
  });
  const unlabelled = await page.evaluate(
    () => [...document.querySelectorAll('#host input')].filter((i) => !i.labels.length).length,
  );
  assert.equal(unlabelled, 0);
});

test('no errors in the page console', () => {
  assert.deepEqual(h.errors, []);
});
