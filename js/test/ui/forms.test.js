// <reverify-sign-in> and <reverify-sign-up> in headless Chromium, against a scripted fake client.
// The elements render in open shadow roots: locators pierce them, page code uses shadowRoot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start } from '../harness/harness.js';
import { SIGNED_IN, err } from '../harness/fixtures.js';
import { freshPage, calls, focused, deepActive } from './helpers.js';

let h;
before(async () => (h = await start()));
after(() => h.stop());

const NEEDS_2FA = {
  id: 'sia_1',
  status: 'needs_second_factor',
  supported_second_factors: [{ strategy: 'totp' }, { strategy: 'backup_code' }],
  expires_at: 2000000000,
};
const SIGN_UP = { id: 'sua_1', status: 'needs_email_code', email: 'a***@example.com', expires_at: 2000000000 };

async function mount(tag, script, attrs = '') {
  const page = await freshPage(h);
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
const events = (page) => page.waitForFunction(() => events.length && events).then((x) => x.jsonValue());
const focusedTag = async (page) => (await deepActive(page)).evaluate((e) => e.tagName);
const step = (page, tag) => page.locator(`${tag} .card`).getAttribute('data-step');

test('sign-in: password, then the second factor (TOTP), then signed in', async () => {
  const page = await mount('reverify-sign-in', {
    signInWithPassword: { ok: NEEDS_2FA },
    attemptSignIn: { ok: SIGNED_IN },
  });
  assert.equal(await page.getByLabel('Email address').getAttribute('autocomplete'), 'username');
  assert.equal(await page.getByLabel('Password').getAttribute('autocomplete'), 'current-password');
  await h.shot(page, 'sign-in');
  await page.getByLabel('Email address').fill('ada@example.com');
  await page.getByLabel('Password').fill('correct horse');
  await page.keyboard.press('Enter');
  await page.locator('[data-step=second] input[name=code]').waitFor();
  assert.equal(await page.locator('reverify-sign-in h2').textContent(), 'Confirm it’s you');
  assert.match(await page.locator('reverify-sign-in .lead').textContent(), /authenticator app/);
  assert.equal(await focused(page), 'code');
  await h.shot(page, 'sign-in-second-factor');
  await page.keyboard.type('123456'); // a complete code submits itself
  const ev = await events(page);
  assert.equal(ev[0][0], 'reverify:signed-in');
  assert.equal(ev[0][1].user.email, 'ada@example.com');
  assert.deepEqual(await calls(page, 'signInWithPassword'), [['ada@example.com', 'correct horse']]);
  assert.deepEqual(await calls(page, 'attemptSignIn'), [['sia_1', { code: '123456', strategy: 'totp' }]]);
  await page.getByText('You’re signed in as ada@example.com.').waitFor();
  assert.equal(await page.locator('reverify-sign-in [data-action=sign-out]').textContent(), 'Sign out');
  assert.equal(await focusedTag(page), 'H2', 'the focus stays in the element (its title), not on <body>');
});

test('sign-in follows the session: signed out elsewhere brings the form back; Sign out signs out', async () => {
  const page = await mount('reverify-sign-in', { signInWithPassword: { ok: SIGNED_IN } });
  await page.getByLabel('Email address').fill('ada@example.com');
  await page.getByLabel('Password').fill('pw');
  await page.keyboard.press('Enter');
  await page.getByText('You’re signed in as ada@example.com.').waitFor();
  await page.evaluate(() => client.emit({ user: null, session: null, reason: 'session_ended' }));
  await page.locator('reverify-sign-in [data-step=password] input[name=password]').waitFor();
  assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1, 'no reload');
  // Signed in elsewhere (another tab): the element says so.
  await page.evaluate(() =>
    client.emit({ user: { id: 'user_1', email: 'bob@example.com' }, session: { id: 's' }, reason: 'signed_in' }),
  );
  await page.getByText('You’re signed in as bob@example.com.').waitFor();
  await page.locator('reverify-sign-in [data-action=sign-out]').click();
  await page.waitForFunction(() => client.calls.some((c) => c[0] == 'signOut'));
  await page.evaluate(() => client.emit({ user: null, session: null, reason: 'signed_out' }));
  await page.locator('reverify-sign-in [data-step=password]').waitFor();
});

test('sign-in: a client already signed in shows who is signed in', async () => {
  const page = await mount('reverify-sign-in', { user: { id: 'user_1', email: 'ada@example.com' } });
  await page.getByText('You’re signed in as ada@example.com.').waitFor();
  assert.equal(await step(page, 'reverify-sign-in'), 'done');
});

test('sign-in: the second step can use a backup code; a wrong one is announced by the field', async () => {
  const page = await mount('reverify-sign-in', {
    signInWithPassword: { ok: NEEDS_2FA },
    attemptSignIn: [err('invalid_code', 422), { ok: SIGNED_IN }],
  });
  await page.getByLabel('Email address').fill('ada@example.com');
  await page.getByLabel('Password').fill('pw');
  await page.click('[data-action=submit]');
  await page.click('[data-strategy=backup_code]');
  await page.getByLabel('Backup code').fill('wrong-code-0000');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'Wrong code. Check it' }).waitFor();
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
  await page.getByLabel('Email address').fill('ada@example.com');
  await page.getByLabel('Password').fill('nope');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'Wrong email address or password.' }).waitFor();
  assert.equal(await page.getByLabel('Email address').inputValue(), 'ada@example.com');
  assert.equal(await page.getByLabel('Password').inputValue(), '');
  assert.equal(await focused(page), 'password');
});

test('sign-in: empty fields are pointed out by the field, without a request', async () => {
  const page = await mount('reverify-sign-in', {});
  await page.locator('reverify-sign-in [data-action=submit]').click();
  assert.equal(await page.locator('reverify-sign-in input[aria-invalid=true]').count(), 2);
  assert.deepEqual(await page.locator('reverify-sign-in .fe').allTextContents(), ['Fill this in.', 'Fill this in.']);
  assert.equal(await focused(page), 'email');
  assert.equal((await calls(page, 'signInWithPassword')).length, 0);
});

test('sign-in: a locked password says so and for how long', async () => {
  const page = await mount('reverify-sign-in', { signInWithPassword: err('locked', 423, 900) });
  await page.getByLabel('Email address').fill('ada@example.com');
  await page.getByLabel('Password').fill('pw');
  await page.keyboard.press('Enter');
  await page
    .getByRole('alert')
    .filter({ hasText: 'Too many wrong tries: your password is paused. Try again in 15 minutes' })
    .waitFor();
  await h.shot(page, 'sign-in-locked');
});

test('sign-in: by emailed code, keyboard only', async () => {
  const page = await mount('reverify-sign-in', {
    signInWithEmailCode: { ok: { id: 'sia_2', status: 'needs_email_code', email: 'a***@example.com' } },
    attemptSignIn: { ok: SIGNED_IN },
  });
  await page.keyboard.press('Tab'); // the page's own button
  for (let i = 0; i < 4; i++) await page.keyboard.press('Tab'); // email, password, submit, "email me a code"
  assert.equal(await focused(page), 'email_code');
  await page.keyboard.press('Enter');
  await page.locator('[data-step=email]').waitFor();
  assert.equal(await focused(page), 'email');
  assert.equal(await page.locator('input[name=password]').count(), 0);
  await page.keyboard.type('ada@example.com');
  await page.keyboard.press('Enter');
  await page.getByText('Enter the 6-digit code we sent to a***@example.com.').waitFor();
  assert.equal(await focused(page), 'code');
  await page.keyboard.type('246810');
  await events(page);
  assert.deepEqual(await calls(page, 'signInWithEmailCode'), [['ada@example.com']]);
  assert.deepEqual(await calls(page, 'attemptSignIn'), [['sia_2', { code: '246810', strategy: 'email_code' }]]);
});

test('sign-in: an expired flow goes back to the start with the message', async () => {
  const page = await mount('reverify-sign-in', {
    signInWithPassword: { ok: NEEDS_2FA },
    attemptSignIn: err('sign_in_expired', 410),
  });
  await page.getByLabel('Email address').fill('ada@example.com');
  await page.getByLabel('Password').fill('pw');
  await page.keyboard.press('Enter');
  await page.locator('input[name=code]').fill('123456');
  await page.getByRole('alert').filter({ hasText: 'This took too long. Start again.' }).waitFor();
  await page.locator('[data-step=password]').waitFor();
  assert.equal(await page.getByLabel('Email address').inputValue(), 'ada@example.com');
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
  await page.getByLabel('Email address').fill('ada@example.com');
  await page.getByLabel('Password').fill('pw');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-action=submit][aria-busy=true][disabled]');
  await page.keyboard.press('Enter');
  await page.evaluate(() => release('signin'));
  await events(page);
  assert.equal((await calls(page, 'signInWithPassword')).length, 1);
});

test('sign-in: a client set before the element is defined still works', async () => {
  const page = await freshPage(h);
  const step = await page.evaluate(async () => {
    const el = document.createElement('reverify-sign-in-later');
    el.client = fakeClient({});
    document.body.append(el);
    customElements.define('reverify-sign-in-later', class extends ui.SignIn {});
    return el.shadowRoot?.querySelector('.card')?.dataset.step;
  });
  assert.equal(step, 'password');
});

test('sign-up: email and password, then the emailed code', async () => {
  const page = await mount('reverify-sign-up', {
    signUp: { ok: SIGN_UP },
    attemptSignUp: [err('invalid_code', 422), { ok: SIGNED_IN }],
  });
  assert.equal(await page.getByLabel('Password').getAttribute('autocomplete'), 'new-password');
  await page.getByLabel('Email address').fill('ada@example.com');
  await page.getByLabel('Password').fill('a long passphrase');
  await page.keyboard.press('Enter');
  await page.getByText('Enter the 6-digit code we sent to a***@example.com.').waitFor();
  await page.keyboard.type('000000');
  await page.getByRole('alert').filter({ hasText: 'Wrong code. Check it' }).waitFor();
  await h.shot(page, 'sign-up-code');
  await page.keyboard.type('123456');
  const ev = await events(page);
  assert.equal(ev[0][0], 'reverify:signed-up');
  assert.deepEqual(await calls(page, 'signUp'), [['ada@example.com', 'a long passphrase']]);
  assert.deepEqual(await calls(page, 'attemptSignUp'), [
    ['sua_1', '000000'],
    ['sua_1', '123456'],
  ]);
  await page.getByText('You’re signed in as ada@example.com.').waitFor();
  assert.equal(await focusedTag(page), 'H2', 'the focus stays in the element (its title), not on <body>');
});

test('sign-up follows the session: signed out elsewhere brings the form back', async () => {
  const page = await mount('reverify-sign-up', { signUp: { ok: SIGN_UP }, attemptSignUp: { ok: SIGNED_IN } });
  await page.getByLabel('Email address').fill('ada@example.com');
  await page.getByLabel('Password').fill('a long passphrase');
  await page.keyboard.press('Enter');
  await page.locator('reverify-sign-up input[name=code]').fill('123456');
  await page.getByText('You’re signed in as ada@example.com.').waitFor();
  await page.evaluate(() => client.emit({ user: null, session: null, reason: 'session_ended' }));
  await page.locator('reverify-sign-up [data-step=form] input[name=password]').waitFor();
});

test('sign-up states the password rule up front (from the server’s environment when it has one)', async () => {
  const page = await mount('reverify-sign-up', {});
  const hint = page.locator('reverify-sign-up input[name=password]');
  await hint.waitFor();
  const described = (p) =>
    p.locator('reverify-sign-up input[name=password]').evaluate((i) =>
      i
        .getAttribute('aria-describedby')
        .split(' ')
        .map((id) => i.getRootNode().getElementById(id).textContent)
        .join('|'),
    );
  assert.match(await described(page), /^At least 8 characters\.\|/);
  assert.equal(await hint.getAttribute('minlength'), '8');
  const twelve = await mount('reverify-sign-up', { environment: { ok: { password: { min_length: 12 } } } });
  await twelve.locator('reverify-sign-up .hint').filter({ hasText: 'At least 12 characters.' }).waitFor();
  assert.match(await described(twelve), /^At least 12 characters/);
});

test('sign-up: a too short password is explained by the field and the field refocused', async () => {
  const page = await mount('reverify-sign-up', { signUp: err('password_too_short', 422) });
  await page.getByLabel('Email address').fill('ada@example.com');
  await page.getByLabel('Password').fill('short');
  await page.keyboard.press('Enter');
  await page
    .locator('reverify-sign-up input[name=password] + .fe')
    .filter({ hasText: 'Use at least 8 characters.' })
    .waitFor();
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
  const counts = await page.evaluate(() => {
    const inputs = [...document.querySelectorAll('#host > *')].flatMap((el) => [
      ...el.shadowRoot.querySelectorAll('input'),
    ]);
    return [inputs.length, inputs.filter((i) => !i.labels.length).length];
  });
  assert.equal(counts[0], 4);
  assert.equal(counts[1], 0);
});

test('no errors in the page console', () => {
  assert.deepEqual(h.errors, []);
});
