// The elements' look: isolated from the host page's CSS (shadow DOM), themable from outside
// (custom properties and ::part()), light and dark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start } from '../harness/harness.js';
import { SECOND } from '../harness/fixtures.js';
import { freshPage } from './helpers.js';

let h;
before(async () => (h = await start()));
after(() => h.stop());

const ME = {
  ok: {
    user: { id: 'user_1', email: 'ada@example.com' },
    factors: { password: true, totp: null, backup_codes_remaining: 0, passkeys: null },
  },
};

async function mount(tag, script = {}, attrs = '') {
  const page = await freshPage(h);
  await page.evaluate(
    ({ tag, script, attrs }) => {
      window.client = fakeClient(script);
      document.getElementById('host').innerHTML = `<${tag} ${attrs}></${tag}>`;
      document.querySelector(tag).client = client;
    },
    { tag, script, attrs },
  );
  await page.locator(`${tag} .card`).waitFor();
  return page;
}

/** Computed styles of elements inside the account (through its shadow root). */
const styles = (page) =>
  page.locator('reverify-account').evaluate((el) => {
    const r = el.shadowRoot;
    const cs = (sel, ...props) => {
      const s = getComputedStyle(r.querySelector(sel));
      return props.map((p) => s[p]).join(' ');
    };
    return {
      section: cs('section', 'backgroundColor', 'paddingTop', 'paddingLeft'),
      label: cs('label[for]', 'display'),
      input: cs('input[name=new_password]', 'width', 'paddingLeft', 'borderTopWidth'),
      button: cs('button.b', 'backgroundColor', 'paddingLeft', 'borderTopWidth', 'display', 'cursor'),
      card: cs('.card', 'backgroundColor', 'width'),
    };
  });

/** Whether the checkbox sits on the same line as its text (vertically centred together). */
const checkboxInline = (page) =>
  page.locator('reverify-account label:has(input[type=checkbox])').evaluate((label) => {
    const box = label.querySelector('input').getBoundingClientRect();
    const text = label.querySelector('span').getBoundingClientRect();
    return (
      box.right <= text.left &&
      Math.abs(box.top + box.height / 2 - (text.top + text.height / 2)) < 4 &&
      text.height < 40
    );
  });

test('the host page’s CSS does not reach inside: aggressive rules change nothing', async () => {
  const page = await mount('reverify-account', { me: ME });
  await page.locator('reverify-account [data-step=account]').waitFor();
  const before = await styles(page);
  assert.ok(await checkboxInline(page), '“Also sign out of my other devices” sits on the line of its checkbox');
  await page.addStyleTag({
    content:
      'section{background:red;padding:40px} label{display:block} input{width:10px} button{all:unset} .card{background:red;width:10px} div{display:inline}',
  });
  assert.deepEqual(await styles(page), before);
  assert.ok(await checkboxInline(page), 'the checkbox stays on the line of its label');
  const width = await page.locator('reverify-account input[name=new_password]').evaluate((i) => i.offsetWidth);
  assert.ok(width > 100, `the password input is ${width} px wide`);
});

test('themable from outside: --reverify-accent and ::part(button-primary)', async () => {
  const page = await mount('reverify-sign-in', {}, 'style="--reverify-accent: rgb(10, 120, 60)"');
  const primary = page.locator('reverify-sign-in [data-action=submit]');
  assert.equal(await primary.evaluate((b) => getComputedStyle(b).backgroundColor), 'rgb(10, 120, 60)');
  await page.addStyleTag({
    content: 'reverify-sign-in::part(button-primary){border-radius:0;text-transform:uppercase}',
  });
  assert.deepEqual(
    await primary.evaluate((b) => [getComputedStyle(b).borderTopLeftRadius, getComputedStyle(b).textTransform]),
    ['0px', 'uppercase'],
  );
  // Only the primary button is that part: the passkey button keeps its rounded corners.
  assert.notEqual(
    await page
      .locator('reverify-sign-in [data-action=passkey]')
      .evaluate((b) => getComputedStyle(b).borderTopLeftRadius),
    '0px',
  );
});

/** Relative luminance (0 black … 1 white) of a computed "rgb(…)" color. */
const luminance = (rgb) => {
  const [r, g, b] = rgb
    .match(/[\d.]+/g)
    .slice(0, 3)
    .map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const cardBg = (page, tag) =>
  page
    .locator(`${tag} .card`)
    .evaluate((c) => getComputedStyle(c).backgroundColor)
    .then(luminance);
const textColor = (page, tag) =>
  page
    .locator(`${tag} h2`)
    .evaluate((c) => getComputedStyle(c).color)
    .then(luminance);

test('dark theme follows the system; theme="light" forces light, theme="dark" forces dark', async () => {
  const page = await mount('reverify-sign-in');
  assert.ok((await cardBg(page, 'reverify-sign-in')) > 0.8, 'light by default');
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.ok((await cardBg(page, 'reverify-sign-in')) < 0.1, 'a dark card in dark mode');
  assert.ok((await textColor(page, 'reverify-sign-in')) > 0.6, 'with light text');
  await page.locator('reverify-sign-in').evaluate((el) => el.setAttribute('theme', 'light'));
  assert.ok((await cardBg(page, 'reverify-sign-in')) > 0.8, 'theme="light" wins over the system');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.locator('reverify-sign-in').evaluate((el) => el.setAttribute('theme', 'dark'));
  assert.ok((await cardBg(page, 'reverify-sign-in')) < 0.1, 'theme="dark" wins over the system');
});

test('the modal in the dark theme, and forced light', async () => {
  const page = await freshPage(h);
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.evaluate((SECOND) => {
    window.client = fakeClient({ startVerification: { ok: SECOND } });
    ui.openVerification({ level: 'second_factor', client }).catch(() => {});
  }, SECOND);
  await page.locator('dialog input[name=code]').waitFor();
  assert.ok((await cardBg(page, 'reverify-verification-modal')) < 0.1);
  const light = await freshPage(h);
  await light.emulateMedia({ colorScheme: 'dark' });
  await light.evaluate((SECOND) => {
    window.client = fakeClient({ startVerification: { ok: SECOND } });
    const m = document.createElement('reverify-verification-modal');
    m.setAttribute('theme', 'light');
    m.open({ level: 'second_factor', client }).catch(() => {});
  }, SECOND);
  await light.locator('dialog input[name=code]').waitFor();
  assert.ok((await cardBg(light, 'reverify-verification-modal')) > 0.8);
});

test('an element without a header (sign-in) gives it no space', async () => {
  const page = await mount('reverify-sign-in');
  assert.equal(
    await page.locator('reverify-sign-in .head').evaluate((e) => [getComputedStyle(e).display, e.offsetHeight].join()),
    'none,0',
  );
});

test('no errors in the page console', () => {
  assert.deepEqual(h.errors, []);
});
