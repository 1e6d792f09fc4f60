// The gallery (docs/gallery.md): a screenshot of every element state in light, dark and
// phone width (390 px), taken by these tests so the pictures never go stale. Each state is
// also checked: axe finds no violations in light and dark, nothing scrolls sideways on the
// phone. Run with the other UI tests; the images and docs/gallery.md are rewritten.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { start } from '../harness/harness.js';
import { FIRST, SECOND, SIGNED_IN, err } from '../harness/fixtures.js';
import { freshPage, audit } from './helpers.js';

const docs = new URL('../../../docs/', import.meta.url);
const dir = new URL('gallery/', docs);
const PHONE = 390;

let h;
before(async () => {
  h = await start();
  mkdirSync(dir, { recursive: true });
});
after(() => h.stop());

const USER = { id: 'user_1', email: 'ada@example.com' };
const APP = { ok: { app: { name: 'Acme Bank', logo_url: null } } };
const NEEDS_2FA = {
  id: 'sia_1',
  status: 'needs_second_factor',
  supported_second_factors: [{ strategy: 'totp' }, { strategy: 'backup_code' }],
};
const WITH_PASSKEY = {
  ...SECOND,
  supported_second_factors: [...SECOND.supported_second_factors, { strategy: 'passkey' }],
};
const QR =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 21 21" shape-rendering="crispEdges"><path d="M0 0h7v7H0zM1 1v5h5V1zM2 2h3v3H2zM14 0h7v7h-7zM15 1v5h5V1zM16 2h3v3h-3zM0 14h7v7H0zM1 15v5h5v-5zM2 16h3v3H2zM9 1h2v2H9zM9 5h3v3H9zM8 9h2v3H8zM12 9h3v2h-3zM17 9h3v3h-3zM9 14h3v2H9zM14 13h2v3h-2zM17 15h4v2h-4zM12 18h3v3h-3zM18 19h3v2h-3z"/></svg>';
const CODES = [
  'k7m2-9xq4-hd3e',
  'p2n8-4kd7-zq1m',
  'c5v9-t3wr-8b2n',
  'm6y1-e7ps-4j9d',
  'r3x8-a2fk-w5g7',
  'h9q4-z6cu-1t8v',
  'n2b7-j5dm-y3e6',
  'u8s1-g4hx-6q2p',
  'f7w3-k9ra-5c1z',
  'e4t6-b8nv-2m9j',
];
const now = () => Math.floor(Date.now() / 1000);
const SESSIONS = () => ({
  ok: {
    sessions: [
      {
        id: 'sess_1',
        current: true,
        ip: '203.0.113.7',
        last_active_at: now(),
        user_agent:
          'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      },
      {
        id: 'sess_2',
        ip: '198.51.100.23',
        last_active_at: now() - 7200,
        user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0',
      },
      {
        id: 'sess_3',
        ip: '192.0.2.44',
        last_active_at: now() - 3 * 86400,
        user_agent:
          'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      },
    ],
  },
});
const ME = (totp) => ({
  ok: {
    user: USER,
    factors: { password: true, totp: totp ? { status: 'confirmed' } : null, backup_codes_remaining: 8, passkeys: 2 },
  },
});
const PASSKEYS = {
  ok: {
    passkeys: [
      { id: 'pk_1', name: 'MacBook Touch ID', created_at: 1, last_used_at: now() - 3600 },
      { id: 'pk_2', name: 'YubiKey 5C', created_at: 2, last_used_at: null },
    ],
  },
};

/** Opens the modal with `script` (the app and the account named), for `action` if given. */
const modal = (script, action) => async (page) => {
  await page.evaluate(
    ({ script, action }) => {
      window.client = fakeClient(script);
      ui.openVerification({ level: 'second_factor', action, client }).catch(() => {});
    },
    { script: { user: USER, environment: APP, ...script }, action },
  );
  await page.locator('dialog .card:not([data-step=loading])').waitFor();
};
/** Mounts `tag` with `script`. */
const mount = (tag, script) => async (page) => {
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
};
const fillCode = (code) => async (page) => page.locator('input[name=code]').fill(code);
const signInWithPassword = async (page) => {
  await page.getByLabel('Email address').fill('ada@example.com');
  await page.getByLabel('Password').fill('correct horse battery');
  await page.keyboard.press('Enter');
};
const steps =
  (...fs) =>
  async (page) => {
    for (const f of fs) await f(page);
  };
const waitFor = (sel) => (page) => page.locator(sel).first().waitFor();

// Every state, in the gallery's order: [name, caption, element, how to get there].
const M = 'reverify-verification-modal';
const STATES = [
  ['modal-password', 'Verification modal: password', M, modal({ startVerification: { ok: FIRST } })],
  [
    'modal-email-code',
    'Verification modal: emailed code',
    M,
    steps(
      modal({ startVerification: { ok: FIRST } }),
      (p) => p.click('[data-strategy=email_code]'),
      waitFor('input[name=code]'),
    ),
  ],
  ['modal-totp', 'Verification modal: authenticator app', M, modal({ startVerification: { ok: SECOND } })],
  [
    'modal-backup-code',
    'Verification modal: backup code',
    M,
    steps(
      modal({ startVerification: { ok: SECOND } }),
      (p) => p.click('[data-strategy=backup_code]'),
      waitFor('[placeholder="xxxx-xxxx-xxxx"]'),
    ),
  ],
  ['modal-passkey', 'Verification modal: passkey', M, modal({ startVerification: { ok: WITH_PASSKEY } })],
  [
    'modal-approval',
    'Verification modal: approving an action',
    M,
    modal(
      { startVerification: { ok: SECOND } },
      {
        type: 'transfer',
        summary: 'Send €25.00 to Bob',
        fields: { amount_cents: '2500', currency: 'EUR', payee: 'Bob' },
        digest: '3bq1',
      },
    ),
  ],
  [
    'modal-locked',
    'Verification modal: the authenticator app locked, moved on to a backup code',
    M,
    steps(
      modal({ startVerification: { ok: SECOND }, attemptVerification: err('locked', 423, 840) }),
      fillCode('000000'),
      waitFor('dialog .note:not(:empty)'),
    ),
  ],
  [
    'modal-wrong-code',
    'Verification modal: a wrong code, shown by the field',
    M,
    steps(
      modal({ startVerification: { ok: SECOND }, attemptVerification: err('invalid_code', 422) }),
      fillCode('000000'),
      waitFor('dialog .fe:not(:empty)'),
    ),
  ],
  [
    'modal-start-again',
    'Verification modal: too many tries, start again',
    M,
    steps(
      modal({ startVerification: { ok: SECOND }, attemptVerification: err('too_many_attempts', 429) }),
      fillCode('000000'),
      waitFor('[data-action=restart]'),
    ),
  ],
  ['sign-in-password', 'Sign-in: email and password', 'reverify-sign-in', mount('reverify-sign-in', {})],
  [
    'sign-in-email',
    'Sign-in: by emailed code',
    'reverify-sign-in',
    steps(mount('reverify-sign-in', {}), (p) => p.click('[data-strategy=email_code]'), waitFor('[data-step=email]')),
  ],
  [
    'sign-in-code',
    'Sign-in: the emailed code',
    'reverify-sign-in',
    steps(
      mount('reverify-sign-in', {
        signInWithEmailCode: { ok: { id: 'sia_2', status: 'needs_email_code', email: 'a***@example.com' } },
      }),
      (p) => p.click('[data-strategy=email_code]'),
      (p) => p.getByLabel('Email address').fill('ada@example.com'),
      (p) => p.keyboard.press('Enter'),
      waitFor('[data-step=code]'),
    ),
  ],
  [
    'sign-in-second-step',
    'Sign-in: the second step (authenticator app)',
    'reverify-sign-in',
    steps(
      mount('reverify-sign-in', { signInWithPassword: { ok: NEEDS_2FA } }),
      signInWithPassword,
      waitFor('[data-step=second]'),
    ),
  ],
  [
    'sign-in-signed-in',
    'Sign-in: signed in',
    'reverify-sign-in',
    steps(
      mount('reverify-sign-in', { signInWithPassword: { ok: SIGNED_IN } }),
      signInWithPassword,
      waitFor('[data-step=done]'),
    ),
  ],
  ['sign-up-form', 'Sign-up: email and password, the rule up front', 'reverify-sign-up', mount('reverify-sign-up', {})],
  [
    'sign-up-code',
    'Sign-up: the emailed code',
    'reverify-sign-up',
    steps(
      mount('reverify-sign-up', {
        signUp: { ok: { id: 'sua_1', status: 'needs_email_code', email: 'a***@example.com' } },
      }),
      (p) => p.getByLabel('Email address').fill('ada@example.com'),
      (p) => p.getByLabel('Password').fill('a long passphrase'),
      (p) => p.keyboard.press('Enter'),
      waitFor('[data-step=code]'),
    ),
  ],
  [
    'account-overview',
    'Account: authenticator app on, passkeys, devices',
    'reverify-account',
    steps(
      mount('reverify-account', { user: USER, me: ME(true), listPasskeys: PASSKEYS, listSessions: SESSIONS() }),
      waitFor('[data-testid=devices]'),
    ),
  ],
  [
    'account-totp-enrollment',
    'Account: setting up the authenticator app',
    'reverify-account',
    steps(
      mount('reverify-account', {
        user: USER,
        me: ME(false),
        listPasskeys: PASSKEYS,
        listSessions: SESSIONS(),
        startTotp: { ok: { status: 'pending', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', qr_svg: QR } },
      }),
      (p) => p.click('[data-action=totp-start]'),
      waitFor('[data-testid=totp-qr]'),
    ),
  ],
  [
    'account-backup-codes',
    'Account: new backup codes, shown once',
    'reverify-account',
    steps(
      mount('reverify-account', {
        user: USER,
        me: ME(true),
        listPasskeys: PASSKEYS,
        listSessions: SESSIONS(),
        regenerateBackupCodes: { ok: { backup_codes: CODES } },
      }),
      (p) => p.click('[data-action=backup-regenerate]'),
      (p) => p.click('[data-action=backup-regenerate][data-sure]'),
      waitFor('[data-testid=backup-codes]'),
    ),
  ],
  [
    'account-confirm',
    'Account: a confirmation question (signing out another device)',
    'reverify-account',
    steps(
      mount('reverify-account', { user: USER, me: ME(true), listPasskeys: PASSKEYS, listSessions: SESSIONS() }),
      (p) => p.locator('[data-action=device-sign-out][data-id=sess_2]').click(),
      waitFor('[data-sure]'),
    ),
  ],
];

/** What to photograph: the dialog for the modal, else the element. */
const target = (page, tag) => page.locator(tag == M ? `${M} dialog` : `${tag} .card`);

for (const [name, caption, tag, setup] of STATES) {
  test(`gallery: ${caption}`, async () => {
    const page = await freshPage(h);
    await setup(page);
    // Web fonts and images (the QR code) are in before the pictures.
    await page.evaluate(() => document.fonts.ready);
    const shot = (variant) =>
      target(page, tag).screenshot({ path: new URL(`${name}-${variant}.png`, dir).pathname, animations: 'disabled' });

    assert.deepEqual(await audit(page, tag), [], `${name}: light`);
    await shot('light');

    await page.emulateMedia({ colorScheme: 'dark' });
    assert.deepEqual(await audit(page, tag), [], `${name}: dark`);
    await shot('dark');

    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: PHONE, height: 844 });
    // Nothing scrolls sideways: the page, the element, the card (or dialog) it shows.
    const wide = await target(page, tag).evaluate((el) => {
      const host = el.getRootNode().host;
      return {
        page: document.documentElement.scrollWidth,
        host: [host.scrollWidth, host.clientWidth],
        element: [el.scrollWidth, el.clientWidth],
        right: Math.round(el.getBoundingClientRect().right),
      };
    });
    assert.ok(wide.page <= PHONE, `${name}: the page is ${wide.page} px wide on a ${PHONE} px phone`);
    assert.ok(wide.host[0] <= wide.host[1], `${name}: the element scrolls sideways (${wide.host})`);
    assert.ok(wide.element[0] <= wide.element[1], `${name}: the card scrolls sideways (${wide.element})`);
    assert.ok(wide.right <= PHONE, `${name}: the card ends at ${wide.right} px`);
    await shot('phone');
    await page.close();
  });
}

test('gallery: docs/gallery.md lists every picture', () => {
  const rows = STATES.map(
    ([name, caption]) =>
      `## ${caption}\n\n| Light | Dark | Phone (390 px) |\n| --- | --- | --- |\n` +
      `| ![${caption}, light](gallery/${name}-light.png) | ![${caption}, dark](gallery/${name}-dark.png) | ![${caption}, phone width](gallery/${name}-phone.png) |\n`,
  );
  const md =
    `# UI gallery\n\nEvery state of the browser SDK's custom elements (\`@reverify/browser/ui\`) in the light theme, ` +
    `the dark theme and at phone width (390 px, light). The pictures are taken by \`js/test/ui/gallery.test.js\` ` +
    `(\`cd js && npm run test:ui\`), which also checks each state with axe and for sideways scrolling on the phone; ` +
    `this page is written by the same test. Do not edit by hand.\n\n` +
    rows.join('\n');
  writeFileSync(new URL('gallery.md', docs), md);
  assert.equal(STATES.length, new Set(STATES.map((s) => s[0])).size, 'unique names');
});

test('no errors in the page console', () => {
  assert.deepEqual(h.errors, []);
});
