// Automated accessibility checks (axe-core, WCAG 2.1 A/AA rules) of every element in its
// main states, in headless Chromium. They complement the keyboard and focus tests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start } from '../harness/harness.js';
import { SECOND, err } from '../harness/fixtures.js';
import { freshPage, audit } from './helpers.js';

let h;
before(async () => (h = await start()));
after(() => h.stop());

async function mount(tag, script) {
  const page = await freshPage(h);
  await page.evaluate(
    ({ tag, script }) => {
      window.client = fakeClient(script);
      const el = document.createElement(tag);
      el.client = client;
      document.getElementById('host').append(el);
    },
    { tag, script },
  );
  await page.locator(`${tag} .card`).waitFor();
  return page;
}

test('modal: first factor, second factor with an error, and "start over"', async () => {
  const page = await freshPage(h);
  await page.evaluate(async () => {
    const { FIRST } = await import('/test/harness/fixtures.js');
    window.client = fakeClient({ startVerification: { ok: FIRST } });
    ui.openVerification({ level: 'second_factor', client }).catch(() => {});
  });
  await page.locator('input[name=password]').waitFor();
  assert.deepEqual(await audit(page, 'reverify-verification-modal'), []);

  const second = await freshPage(h);
  await second.evaluate(
    ({ SECOND, bad, over }) => {
      window.client = fakeClient({ startVerification: { ok: SECOND }, attemptVerification: [bad, over] });
      ui.openVerification({ level: 'second_factor', client }).catch(() => {});
    },
    { SECOND, bad: err('invalid_code', 422), over: err('too_many_attempts', 429) },
  );
  await second.fill('input[name=code]', '000000');
  await second.locator('[aria-invalid=true]').waitFor();
  assert.deepEqual(await audit(second, 'reverify-verification-modal'), []);
  await second.keyboard.type('111111');
  await second.locator('[data-action=restart]').waitFor();
  assert.deepEqual(await audit(second, 'reverify-verification-modal'), []);
});

test('sign-in and sign-up forms', async () => {
  const page = await mount('reverify-sign-in', {
    signInWithPassword: {
      ok: {
        id: 's',
        status: 'needs_second_factor',
        supported_second_factors: [{ strategy: 'totp' }, { strategy: 'backup_code' }],
      },
    },
  });
  assert.deepEqual(await audit(page, 'reverify-sign-in'), []);
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('pw');
  await page.keyboard.press('Enter');
  await page.locator('[data-step=second]').waitFor();
  assert.deepEqual(await audit(page, 'reverify-sign-in'), []);
  const up = await mount('reverify-sign-up', {});
  assert.deepEqual(await audit(up, 'reverify-sign-up'), []);
});

test('account: factors, TOTP enrollment, a confirmation question', async () => {
  const page = await mount('reverify-account', {
    me: {
      ok: {
        user: { email: 'ada@example.com' },
        factors: { password: true, totp: null, backup_codes_remaining: 0, passkeys: 1 },
      },
    },
    listPasskeys: { ok: { passkeys: [{ id: 'pk_1', name: 'Laptop' }] } },
    startTotp: {
      ok: { status: 'pending', secret: 'JBSWY3DPEHPK3PXP', qr_svg: '<svg xmlns="http://www.w3.org/2000/svg"/>' },
    },
  });
  await page.locator('[data-action=totp-start]').waitFor();
  assert.deepEqual(await audit(page, 'reverify-account'), []);
  await page.click('[data-action=totp-start]');
  await page.locator('[data-testid=totp-qr]').waitFor();
  await page.click('[data-action=passkey-delete]');
  await page.locator('[data-sure]').waitFor();
  assert.deepEqual(await audit(page, 'reverify-account'), []);
});

test('account with TOTP on, passkeys and devices; the same in the dark theme', async () => {
  const script = {
    user: { id: 'user_1', email: 'ada@example.com' },
    me: {
      ok: {
        user: { id: 'user_1', email: 'ada@example.com' },
        factors: { password: true, totp: { status: 'confirmed' }, backup_codes_remaining: 8, passkeys: 1 },
      },
    },
    listPasskeys: { ok: { passkeys: [{ id: 'pk_1', name: 'Laptop', last_used_at: 1700000000 }] } },
    listSessions: {
      ok: {
        sessions: [
          {
            id: 's1',
            current: true,
            user_agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/126.0',
            ip: '203.0.113.7',
          },
          {
            id: 's2',
            user_agent: 'Mozilla/5.0 (Windows NT 10.0) Firefox/127.0',
            ip: '198.51.100.2',
            last_active_at: 1700000000,
          },
        ],
      },
    },
  };
  for (const colorScheme of ['light', 'dark']) {
    const page = await mount('reverify-account', script);
    await page.emulateMedia({ colorScheme });
    await page.locator('[data-testid=devices]').waitFor();
    assert.deepEqual(await audit(page, 'reverify-account'), [], colorScheme);
    await page.click('[data-action=device-sign-out]');
    await page.locator('[data-sure]').waitFor();
    assert.deepEqual(await audit(page, 'reverify-account'), [], colorScheme);
  }
});

test('the modal and the sign-in in the dark theme', async () => {
  const page = await freshPage(h);
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.evaluate(
    ({ SECOND, bad }) => {
      window.client = fakeClient({
        user: { email: 'ada@example.com' },
        environment: { ok: { app: { name: 'Acme' } } },
        startVerification: { ok: SECOND },
        attemptVerification: bad,
      });
      ui.openVerification({ level: 'second_factor', client }).catch(() => {});
    },
    { SECOND, bad: err('invalid_code', 422) },
  );
  await page.fill('input[name=code]', '000000');
  await page.locator('[aria-invalid=true]').waitFor();
  assert.deepEqual(await audit(page, 'reverify-verification-modal'), []);
  const form = await mount('reverify-sign-in', { signInWithPassword: err('invalid_credentials', 401) });
  await form.emulateMedia({ colorScheme: 'dark' });
  await form.getByLabel('Email address').fill('ada@example.com');
  await form.getByLabel('Password').fill('pw');
  await form.keyboard.press('Enter');
  await form.locator('[aria-invalid=true]').waitFor();
  assert.deepEqual(await audit(form, 'reverify-sign-in'), []);
});
