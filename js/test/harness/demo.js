// `index.html#demo`: every element with a canned client, to look at by hand
// (serve js/ with any static server, e.g. `node serve.js`, and open /test/harness/index.html#demo).
import { fakeClient } from '/test/harness/fake-client.js';
import { openVerification } from '/src/ui/index.js';

const verification = {
  id: 'ver_1',
  object: 'verification',
  level: 'second_factor',
  status: 'needs_second_factor',
  supported_first_factors: [{ strategy: 'password' }, { strategy: 'email_code', safe_identifier: 'a***@example.com' }],
  supported_second_factors: [
    { strategy: 'totp' },
    { strategy: 'backup_code' },
    { strategy: 'passkey', requires_user_verification: true },
  ],
  attempts_left: 5,
};
const qr = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 21 21"><path d="M0 0h7v7H0zM14 0h7v7h-7zM0 14h7v7H0zM9 9h3v3H9z"/></svg>`;

export function demo() {
  const client = fakeClient({
    startVerification: { ok: verification },
    attemptVerification: [
      { error: { code: 'invalid_code', status: 422 } },
      { ok: { verification: { status: 'complete' }, token: 't' } },
    ],
    signInWithPassword: {
      ok: {
        id: 'sia_1',
        status: 'needs_second_factor',
        supported_second_factors: [{ strategy: 'totp' }, { strategy: 'backup_code' }],
      },
    },
    attemptSignIn: { ok: { status: 'complete', user: { email: 'ada@example.com' } } },
    signUp: { ok: { id: 'sua_1', status: 'needs_email_code', email: 'a***@example.com' } },
    me: {
      ok: {
        user: { email: 'ada@example.com' },
        factors: { password: true, totp: null, backup_codes_remaining: 0, passkeys: 1 },
      },
    },
    listPasskeys: { ok: { passkeys: [{ id: 'pk_1', name: 'MacBook Touch ID', created_at: 0 }] } },
    startTotp: {
      ok: { status: 'pending', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', qr_svg: qr, digits: 6, period: 30 },
    },
    confirmTotp: { ok: { status: 'confirmed', backup_codes: ['k7m2-9xq4-hd3e', 'p2n8-4kd7-zq1m'] } },
  });
  window.client = client;
  const host = document.getElementById('host');
  host.style.cssText = 'display:flex;gap:1rem;flex-wrap:wrap;align-items:start';
  for (const name of ['reverify-sign-in', 'reverify-sign-up', 'reverify-account']) {
    const el = document.createElement(name);
    el.client = client;
    host.append(el);
  }
  document.getElementById('opener').onclick = () =>
    openVerification({ level: 'second_factor', client }).catch(() => {});
}
