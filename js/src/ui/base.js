import { t, esc, errText } from './strings.js';
import { css } from './css.js';

let ids = 0;
// Lets the module be imported where there is no DOM (server rendering); nothing is defined there.
const El = globalThis.HTMLElement || class {};
let sheet;

/** Passkey buttons are shown only where the browser can do WebAuthn. */
export const canPasskey = () => !!globalThis.PublicKeyCredential;

// Which field an error code is about (any other error goes by the form's main field):
// invalid_code, code_expired, code_already_used…; incorrect_password, invalid_credentials,
// password_too_short…; invalid_email, email_taken.
const fieldOf = (c = '') => (/code/.test(c) ? 'code' : /passw|cred/.test(c) ? 'password' : /email/.test(c) && 'email');

// The order methods are offered in when nothing was used before: strongest first.
const STRENGTH = ['passkey', 'totp', 'password', 'email_code', 'backup_code'];
const KEY = 'reverify.method';

/** The method this browser last confirmed with (remembered across visits). */
export function lastMethod(set) {
  try {
    if (set) localStorage.setItem(KEY, set);
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

/** The method to offer first from `list` (server factors): the last one used if offered and
 * not `locked`, else the strongest; a backup code only when nothing else is left. */
export function pick(list, locked = {}) {
  const open = list.map((f) => f.strategy).filter((s) => !(locked[s] > Date.now()));
  const last = lastMethod();
  if (open.includes(last) && last != 'backup_code') return last;
  return open.sort((a, b) => (STRENGTH.indexOf(a) >>> 0) - (STRENGTH.indexOf(b) >>> 0))[0];
}

/** A button for `data-action` `a`; class `b` is the primary one (part `button-primary`). */
export const button = (a, label, cls = 'b', attrs = '', type = 'button') =>
  `<button type="${type}" class="${cls}" part="button${cls == 'b' ? ' button-primary' : ''}" data-action="${a}"${attrs}>${label}</button>`;

export const link = (attr, label) => `<button type="button" class="l" part="link" ${attr}>${label}</button>`;

/** Initial and email: who the element is acting for. */
export const identity = (email) =>
  email
    ? `<p class="id" part="identity"><span class="av" aria-hidden="true">${esc(email[0].toUpperCase())}</span><span>${esc(email)}</span></p>`
    : '';

/** The element made from `markup`. */
export const html = (markup) => {
  const tpl = document.createElement('template');
  tpl.innerHTML = markup;
  return tpl.content.firstChild;
};

const setBusy = (b, on) => {
  if (!b) return;
  b.disabled = on;
  on ? b.setAttribute('aria-busy', 'true') : b.removeAttribute('aria-busy');
};

/**
 * What every element shares: the `client` property (followed live: sign-in, sign-out and a
 * session ended elsewhere reach `sessionChanged`), a shadow root with the stylesheet, a card
 * with a title, a notice region and a status region, click and submit delegation by
 * `data-action` (or `data-strategy`), the busy state of the button whose request runs, and
 * errors shown by the field they are about.
 *
 * Subclasses implement `view()` → {title, pre?, lead?, head?, id?, body, step}, `act(action,
 * button, form)`, and optionally `reset()` (a client was attached), `sessionChanged(state)`,
 * `failed(error, text)` (true when handled) and `errVars()`.
 */
export class Base extends El {
  #client = null;
  #off = null;
  #busy = 0;
  #gen = 0;
  #form = null;
  #note = '';
  #ok = '';
  #card = null;

  constructor() {
    super();
    this.uid = 'rv' + ++ids;
    const root = this.attachShadow({ mode: 'open' });
    try {
      if (!sheet) {
        sheet = new CSSStyleSheet();
        sheet.replaceSync(css);
      }
      root.adoptedStyleSheets = [sheet];
    } catch {
      root.append(Object.assign(document.createElement('style'), { textContent: css }));
    }
    root.addEventListener('click', (e) => {
      const b = e.target.closest?.('button[data-action],button[data-strategy]');
      if (b && b.type != 'submit') this.#go(b);
    });
    root.addEventListener('submit', (e) => {
      e.preventDefault();
      const b = e.target.querySelector('[type=submit]');
      if (!b || b.disabled) return;
      // Empty required fields are pointed out here, by the field, without a request.
      const empty = [...e.target.querySelectorAll('input[required]')].filter((i) => !i.value.trim());
      if (!empty.length) return this.#go(b, e.target);
      for (const i of empty) this.#invalid(i, t('required'));
      empty[0].focus();
    });
    // One-time codes: digits only (a pasted "123 456" too); a complete code submits itself.
    root.addEventListener('input', (e) => {
      const i = e.target;
      if (!i.classList?.contains('otp')) return;
      const v = i.value.replace(/\D/g, '').slice(0, 6);
      if (v != i.value) i.value = v;
      if (v.length == 6 && !this.busy) i.form?.requestSubmit();
    });
  }

  /** The ReverifyClient the element talks to. */
  get client() {
    return this.#client;
  }

  set client(c) {
    if (c === this.#client) return;
    this.#client = c;
    this.#follow();
    if (this.isConnected && c) this.reset();
  }

  connectedCallback() {
    // A `client` set before the element was defined shadows the accessor: move it over.
    if (Object.hasOwn(this, 'client')) {
      const c = this.client;
      delete this.client;
      this.client = c;
    } else {
      this.#follow();
      if (this.#client && !this.#card) this.reset();
    }
  }

  disconnectedCallback() {
    this.#off?.();
    this.#off = null;
  }

  #follow() {
    this.#off?.();
    this.#off = this.isConnected ? this.#client?.onChange?.((s) => this.sessionChanged(s)) : null;
  }

  /** A client was attached (or the element connected with one): show the first step. */
  reset() {}

  /** The client's session changed: `{user, session, reason}`. */
  sessionChanged() {}

  /** The shadow root's element for `sel`. */
  $(sel) {
    return this.shadowRoot.querySelector(sel);
  }

  /** Whether a request is running. */
  get busy() {
    return this.#busy > 0;
  }

  /** Results of requests started before this call are dropped. */
  invalidate() {
    this.#gen++;
    this.#busy = 0;
  }

  #go(b, form) {
    const a = b.dataset.action || 'strategy';
    this.#form = form || b.closest('form');
    if (a == 'cancel') this.cancel?.();
    else if (!this.busy) this.act(a, b, form);
  }

  /** Where the card goes (the modal puts it in a dialog). */
  frame() {
    return this.shadowRoot;
  }

  /** Renders the current step; `focus`: truthy to move focus in (a selector to pick where). */
  render(focus) {
    if (!this.#card?.isConnected) {
      this.#card = html(
        `<div class="card" part="card"><div class="head" part="header"></div><div class="titles"></div><p class="note" role="alert"></p><p class="ok" role="status"></p><div class="body" part="body"></div></div>`,
      );
      this.frame().append(this.#card);
    }
    const c = this.#card;
    const v = this.view();
    const u = this.uid;
    c.dataset.step = v.step;
    c.children[0].innerHTML = v.head || '';
    c.children[1].innerHTML =
      `<h2 id="${u}t" part="title" tabindex="-1">${v.title}</h2>${v.pre || ''}` +
      (v.lead ? `<p class="lead" part="lead" id="${u}d">${v.lead}</p>` : '') +
      (v.id || '');
    if (c.children[2].innerHTML != this.#note) c.children[2].innerHTML = this.#note;
    if (c.children[3].innerHTML != this.#ok) c.children[3].innerHTML = this.#ok;
    c.children[4].innerHTML = v.body;
    if (focus) {
      for (const s of [focus, '[aria-invalid=true]', 'input:not([type=checkbox])', '.body button']) {
        const el = typeof s == 'string' && this.$(s);
        if (el) return el.focus();
      }
    }
  }

  /** A notice at the top of the card (an error about the whole step), kept until the next request. */
  note(html) {
    this.#note = html;
    if (this.#card) this.#card.children[2].innerHTML = html;
  }

  /** A success message in the status region, kept until the next request. */
  ok(html) {
    this.#ok = html;
    if (this.#card) this.#card.children[3].innerHTML = html;
  }

  /** Clears every message (before a request, or when the step changes). */
  clear() {
    this.note('');
    this.ok('');
    for (const e of this.shadowRoot.querySelectorAll('.fe')) e.textContent = '';
    for (const i of this.shadowRoot.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
  }

  /** Runs `f` with button `b` busy (disabled + aria-busy); then `ok(result)`, or shows the error. */
  async run(b, f, ok) {
    const gen = this.#gen;
    this.#busy++;
    this.clear();
    setBusy(b, true);
    try {
      const r = await f();
      if (gen == this.#gen) await ok?.(r);
    } catch (e) {
      if (gen == this.#gen) this.fail(e);
    } finally {
      if (gen == this.#gen) this.#busy--;
      setBusy(b, false);
      // Disabling the focused button drops focus to <body>: bring it back.
      if (b?.isConnected && !this.shadowRoot.activeElement) b.focus();
    }
  }

  /** Variables of error messages ({method}, {n}). */
  errVars() {
    return {};
  }

  /** Subclasses: handle an error themselves (change step, end); true when handled. */
  failed() {
    return false;
  }

  /** Shows an error by the field it is about (cleared, marked invalid, focused), else as a notice. */
  fail(e) {
    const text = errText(e, this.errVars());
    if (this.failed(e, text)) return;
    const form = this.#form?.isConnected ? this.#form : this.$('form');
    const inputs = [...(form?.querySelectorAll('input:not([type=checkbox])') || [])];
    const name = fieldOf(e?.code);
    // By name ("password" is also "new_password"), else the last field when the error is about none.
    const i = (name && inputs.find((x) => x.name.endsWith(name))) || (!name && inputs.at(-1));
    if (!this.#invalid(i, text)) return this.note(text);
    if (i.type != 'email') i.value = '';
    i.focus();
  }

  /** Marks input `i` invalid with `text` in its error slot; false when it has none. */
  #invalid(i, text) {
    const slot = i && this.$('#' + i.id + 'e');
    if (slot) {
      slot.innerHTML = text;
      i.setAttribute('aria-invalid', 'true');
    }
    return !!slot;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { bubbles: true, composed: true, detail }));
  }

  /** A labelled input with an optional hint, and its error slot (announced; space kept). */
  field(name, label, attrs = 'required', hint = '') {
    const id = this.uid + name;
    const h = hint ? `<p class="hint" id="${id}h">${hint}</p>` : '';
    return `<div class="f" part="field"><label part="label" for="${id}">${label}</label>${h}<input part="input" id="${id}" name="${name}" ${attrs} aria-describedby="${hint ? id + 'h ' : ''}${id}e"><p class="fe" part="error" id="${id}e" role="alert"></p></div>`;
  }

  /** The code input for a strategy: six digits (emailed or TOTP, one-time-code autofill and a
   * numeric keyboard; pasting a whole code works and submits), or a backup code. */
  code(s) {
    return s == 'backup_code'
      ? this.field(
          'code',
          t('backupCode'),
          'required autocomplete="off" autocapitalize="none" spellcheck="false" placeholder="xxxx-xxxx-xxxx"',
        )
      : this.field(
          'code',
          t('code'),
          'required class="otp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" placeholder="000000"',
        );
  }

  form(fields, label, action = 'submit', cls = 'b') {
    return `<form novalidate>${fields}${button(action, label, cls, '', 'submit')}</form>`;
  }
}
