import { css } from './css.js';
import { t, errText } from './strings.js';

let ids = 0;
// Lets the module be imported where there is no DOM (server rendering); nothing is defined there.
const El = globalThis.HTMLElement || class {};

/** Passkey buttons are shown only where the browser can do WebAuthn. */
export const canPasskey = () => !!globalThis.PublicKeyCredential;

/**
 * What every element shares: the `client` property, one stylesheet, a card with a heading,
 * an alert region for errors and a status region, click/submit delegation by `data-action`
 * (or `data-strategy`), and the busy state of the button whose request is running.
 * Subclasses implement `view()` → [title, bodyHTML, step] and `act(action, button, form)`.
 */
export class Base extends El {
  constructor() {
    super();
    this.u = 'rv' + ++ids;
    this.err = this.ok = '';
    this.addEventListener('click', (e) => {
      const b = e.target.closest?.('button[data-action],button[data-strategy]');
      if (b && b.type != 'submit' && this.contains(b)) this.go(b);
    });
    this.addEventListener('submit', (e) => {
      e.preventDefault();
      const b = e.target.querySelector('[type=submit]');
      if (b && !b.disabled) this.go(b, e.target);
    });
  }

  get client() {
    return this.c;
  }

  set client(c) {
    this.c = c;
    if (this.isConnected) this.start();
  }

  connectedCallback() {
    if (!document.getElementById('reverify-css')) {
      document.head.append(Object.assign(document.createElement('style'), { id: 'reverify-css', textContent: css }));
    }
    // A `client` set before the element was defined shadows the accessor: move it over.
    if (Object.hasOwn(this, 'client')) {
      const c = this.client;
      delete this.client;
      this.client = c;
    } else if (this.c && !this.innerHTML) this.start();
  }

  start() {}

  q(sel) {
    return this.querySelector(sel);
  }

  go(b, form) {
    const a = b.dataset.action || 'strategy';
    this.form_ = form;
    if (a == 'cancel') this.cancel();
    else if (!this.busy) this.act(a, b, form);
  }

  /** Runs `f` with button `b` busy (disabled + aria-busy); then `ok(result)`, or shows the error. */
  async run(b, f, ok) {
    const g = this.g;
    const set = (on) => {
      if (!b) return;
      b.disabled = on;
      on ? b.setAttribute('aria-busy', 'true') : b.removeAttribute('aria-busy');
    };
    this.busy = (this.busy || 0) + 1;
    this.err = this.ok = '';
    this.q('.rv-err').textContent = this.q('.rv-ok').textContent = '';
    set(true);
    try {
      const r = await f();
      if (g == this.g) await ok?.(r);
    } catch (e) {
      if (g == this.g) this.fail(e);
    } finally {
      if (g == this.g) this.busy--;
      set(false);
      // Disabling the focused button drops focus to <body>: bring it back.
      if (b?.isConnected && !this.contains(document.activeElement)) b.focus();
    }
  }

  /** Shows the error; the last text field of the form that failed is cleared and marked invalid. */
  fail(e) {
    this.err = errText(e, this.method?.());
    this.bad = [...(this.form_?.querySelectorAll('input:not([type=checkbox],[type=email])') || [])].pop()?.name;
    this.paint(1);
  }

  shell(x = '') {
    return `<div class="rv-card"><div class="rv-head"><h2 id="${this.u}t"></h2>${x}</div><p id="${this.u}e" class="rv-err" role="alert"></p><p class="rv-ok" role="status"></p><div class="rv-body"></div></div>`;
  }

  /** Renders the current step; `focus`: truthy to move focus in (a selector to pick where). */
  paint(focus) {
    if (!this.q('.rv-card')) this.innerHTML = this.shell();
    const [title, body, step] = this.view();
    this.q('h2').innerHTML = title;
    this.q('.rv-body').innerHTML = body;
    this.q('.rv-card').dataset.step = step;
    this.q('.rv-err').innerHTML = this.err;
    this.q('.rv-ok').innerHTML = this.ok;
    if (focus) {
      for (const s of [focus, '[aria-invalid]', 'input:not([type=checkbox])', 'button']) {
        const el = typeof s == 'string' && this.q('.rv-body ' + s);
        if (el) return el.focus();
      }
    }
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { bubbles: true, composed: true, detail }));
  }

  /** A labelled input, marked invalid (and described by the error) after an error about it. */
  field(name, label, attrs = 'required') {
    const id = this.u + name;
    return `<div class="rv-f"><label for="${id}">${label}</label><input id="${id}" name="${name}" ${attrs} aria-describedby="${this.u}e"${this.err && name == this.bad ? ' aria-invalid="true"' : ''}></div>`;
  }

  /** The code input for a strategy (emailed, TOTP or backup code). */
  code(s) {
    return s == 'backup_code'
      ? this.field('code', t('backupCode'), 'required autocomplete="off" autocapitalize="none" spellcheck="false"')
      : this.field('code', t('code'), 'required inputmode="numeric" autocomplete="one-time-code" maxlength="8"');
  }

  form(fields, label, action = 'submit', cls = 'rv-b') {
    return `<form>${fields}<button type="submit" class="${cls}" data-action="${action}">${label}</button></form>`;
  }
}

/** The first strategy to offer: the first one listed that is not a backup code. */
export const pick = (list) => (list.find((f) => f.strategy != 'backup_code') || list[0])?.strategy;

export const link = (attr, label) => `<button type="button" class="rv-l" ${attr}>${label}</button>`;
