// Automated accessibility checks (axe-core, WCAG 2.1 A/AA rules) of every element in its
// main states, in headless Chromium. They complement the keyboard and focus tests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { start } from '../harness/harness.js';
import { SECOND, err } from '../harness/fixtures.js';

const axePath = createRequire(new URL('../harness/package.json', import.meta.url)).resolve('axe-core/axe.min.js');

let h;
before(async () => (h = await start()));
after(() => h.stop());

async function audit(page, selector) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(
    (sel) =>
      axe.run(sel, {
        runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'],
        rules: { region: { enabled: false } },
      }),
    selector,
  );
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

async function mount(tag, script) {
  const page = await h.page();
  await page.evaluate(
    ({ tag, script }) => {
      window.client = fakeClient(script);
      const el = document.createElement(tag);
      el.client = client;
      document.getElementById('host').append(el);
    },
    { tag, script },
  );
  await page.locator(`${tag} .rv-card`).waitFor();
  return page;
}

test('modal: first factor, second factor with an error, and "start over"', async () => {
  const page = await h.page();
  await page.evaluate(async () => {
    const { FIRST } = await import('/test/harness/fixtures.js');
    window.client = fakeClient({ startVerification: { ok: FIRST } });
    ui.openVerification({ level: 'second_factor', client }).catch(() => {});
  });
  await page.locator('input[name=password]').waitFor();
  assert.deepEqual(await audit(page, 'reverify-verification-modal'), []);

  const second = await h.page();
  await second.evaluate(
    ({ SECOND, bad, over }) => {
      window.client = fakeClient({ startVerification: { ok: SECOND }, attemptVerification: [bad, over] });
      ui.openVerification({ level: 'second_factor', client }).catch(() => {});
    },
    { SECOND, bad: err('invalid_code', 422), over: err('too_many_attempts', 429) },
  );
  await second.fill('input[name=code]', '000000');
  await second.keyboard.press('Enter');
  await second.locator('[aria-invalid=true]').waitFor();
  assert.deepEqual(await audit(second, 'reverify-verification-modal'), []);
  await second.keyboard.type('111111');
  await second.keyboard.press('Enter');
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
