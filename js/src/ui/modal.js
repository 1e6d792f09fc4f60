import { ReverifyError, REVERIFICATION_CANCELLED, SIGNED_OUT } from '../index.js';
import { Base, canPasskey, pick, link, identity, lastMethod, button, html } from './base.js';
import { t, esc, wait } from './strings.js';

// Errors after which this verification is over: offer to start a new one.
const DEAD = ['too_many_attempts', 'verification_expired', 'verification_ended', 'not_found'];

/**
 * <reverify-verification-modal>: `open({ level, action, client })` shows a modal dialog that
 * verifies the signed-in user again (step-up) and resolves when the server says
 * `complete`. With an `action` (the reverification error's `metadata.action`), it approves
 * that action: "Approve: <summary>" above the prompt, the verification started for it. It rejects with a ReverifyError: `reverification_cancelled` on Escape, the
 * close button or `cancel()`; `signed_out` when the session ends meanwhile (here or on
 * another device). It names the app (and its logo) and the account it verifies, starts with
 * the method last used in this browser (else the strongest: a passkey, the authenticator
 * app, the password), and moves on to another method when one is locked.
 * Events: `reverify:complete`, `reverify:cancel` (detail: `{ code }`).
 */
export class VerificationModal extends Base {
  #level = 'second_factor';
  #action = null;
  #prev = null;
  #promise = null;
  #settle = null;
  #v = null;
  #s = null;
  #dead = false;
  #sent = {};
  #locked = {};
  #app = null;

  /** Opens the dialog; the promise settles when the user is verified or gives up. */
  open({ level = 'second_factor', action, client } = {}) {
    if (this.#promise) return this.#promise;
    if (client) this.client = client;
    if (!this.client) return Promise.reject(new TypeError('open() needs a client'));
    this.#level = level;
    this.#action = action;
    this.#prev = document.activeElement;
    this.#locked = {};
    this.#promise = new Promise((res, rej) => (this.#settle = { res, rej }));
    if (!this.isConnected) document.body.append(this);
    const u = this.uid;
    const theme = this.getAttribute('theme') || document.documentElement.dataset.reverifyTheme;
    if (theme) this.setAttribute('theme', theme);
    // Described by the action to approve, when there is one, and the lead.
    const d = html(`<dialog part="dialog" aria-labelledby="${u}t" aria-describedby="${action ? u + 'a ' : ''}${u}d">`);
    this.shadowRoot.append(d);
    // Escape fires "cancel" (not always cancelable); any other close also counts as cancel.
    d.addEventListener('cancel', (e) => {
      e.preventDefault();
      this.cancel();
    });
    d.addEventListener('close', () => d.isConnected && this.cancel());
    d.addEventListener('keydown', (e) => this.#trap(e));
    d.showModal();
    this.#begin();
    return this.#promise;
  }

  frame() {
    return this.$('dialog');
  }

  /** The session ended (here, in another tab, or found out by a request): stop at once. */
  sessionChanged(s) {
    if (this.#promise && !s?.user) this.#end(new ReverifyError(SIGNED_OUT, 'You are signed out'));
  }

  /** Keeps Tab and Shift+Tab cycling inside the dialog. */
  #trap(e) {
    if (e.key != 'Tab') return;
    const f = [...this.shadowRoot.querySelectorAll('button,input,a[href]')].filter(
      (x) => !x.disabled && x.tabIndex >= 0 && x.getClientRects().length,
    );
    const i = f.indexOf(this.shadowRoot.activeElement);
    if (e.shiftKey ? i < 1 : i < 0 || i == f.length - 1) {
      e.preventDefault();
      f.at(e.shiftKey ? -1 : 0)?.focus();
    }
  }

  #begin(b) {
    this.#v = null;
    this.#dead = false;
    this.#sent = {};
    this.render();
    const c = this.client;
    const env = Promise.resolve(c.environment?.()).catch(() => null);
    this.run(
      b,
      () => Promise.all([c.startVerification(this.#level, this.#action), env]),
      ([v, e]) => {
        this.#app = e?.app || null;
        this.#set(v);
      },
    );
  }

  /** The methods of the current step, without passkeys where the browser has no WebAuthn. */
  #list() {
    const v = this.#v;
    return ((v.status == 'needs_second_factor' ? v.supported_second_factors : v.supported_first_factors) || []).filter(
      (f) => f.strategy != 'passkey' || canPasskey(),
    );
  }

  #isLocked(s) {
    return this.#locked[s] > Date.now();
  }

  /** Shows a verification (or closes on `complete`: the answer then nests it). */
  #set(a) {
    const v = a.verification || a;
    if (v.status == 'complete') {
      if (this.#s) lastMethod(this.#s);
      return this.#end(null, a);
    }
    this.#v = v;
    this.#dead = v.status == 'cancelled';
    const list = this.#list();
    if (!list.some((f) => f.strategy == this.#s) || this.#isLocked(this.#s)) this.#s = pick(list, this.#locked);
    this.render(1);
    if (this.#s == 'email_code') this.#prep();
  }

  /** Sends the email code once per verification (`b`: the resend button, to send again). */
  #prep(b) {
    const id = this.#v.id;
    if (!b && this.#sent[id]) return;
    this.#sent[id] = 1;
    this.run(
      b || this.$('[data-action=submit]'),
      () =>
        this.client.prepareVerification(id, 'email_code').catch((e) => {
          this.#sent[id] = 0;
          throw e;
        }),
      () => {
        if (b) {
          this.ok(t('sent'));
          this.$('[name=code]')?.focus();
        }
      },
    );
  }

  view() {
    const [v, s, u, app] = [this.#v, this.#s, this.uid, this.#app];
    const logo = app?.logo_url ? `<img part="logo" src="${esc(app.logo_url)}" alt="">` : '';
    const head =
      `<p class="brand" part="app">${logo}<span>${esc(app?.name || '')}</span></p>` +
      `<button type="button" class="x" data-action="cancel" aria-label="${t('close')}">×</button>`;
    const a = this.#action;
    // An action to approve: named above the prompt, as text.
    const base = {
      title: t(a ? 'approveTitle' : 'verifyTitle'),
      head,
      pre: a ? `<p class="act" part="action" id="${u}a">${t('approve', { summary: a.summary })}</p>` : '',
      id: identity(this.client?.user?.email),
    };
    const why = a ? t('approveLead') + ' ' : '';
    if (this.#dead)
      return {
        ...base,
        lead: why || t('verifyLead'),
        body: button('restart', t('startOver')),
        step: 'dead',
      };
    if (!v) return { ...base, lead: t('loading'), body: '', step: 'loading' };
    const list = this.#list();
    if (!s || this.#isLocked(s)) {
      const until = Math.min(...Object.values(this.#locked));
      return {
        ...base,
        lead: t('allLocked', { wait: wait(Math.ceil((until - Date.now()) / 1000)) }),
        body: button('cancel', t('close')),
        step: 'locked',
      };
    }
    const email = list.find((f) => f.strategy == 'email_code')?.safe_identifier;
    const others = list.filter((f) => f.strategy != s && !this.#isLocked(f.strategy));
    const body =
      (s == 'passkey'
        ? button('passkey', t('usePasskey'))
        : this.form(
            s == 'password'
              ? this.field('password', t('password'), 'type="password" required autocomplete="current-password"')
              : this.code(s),
            t('continue'),
          )) +
      (s == 'email_code' ? link('data-action="resend"', t('resend')) : '') +
      (others.length
        ? `<div class="alt" role="group" aria-labelledby="${u}o"><p id="${u}o" class="mu">${t('other')}</p>${others
            .map((f) => link(`data-strategy="${esc(f.strategy)}"`, t('s_' + f.strategy, { email: f.safe_identifier })))
            .join('')}</div>`
        : '');
    return {
      ...base,
      lead: why + t('d_' + s, { email }),
      body,
      step: v.status,
    };
  }

  act(a, b, form) {
    const id = this.#v?.id;
    const done = (r) => this.#set(r);
    const c = this.client;
    if (a == 'strategy') {
      this.#s = b.dataset.strategy;
      this.clear();
      this.render(1);
      if (this.#s == 'email_code') this.#prep();
    } else if (a == 'restart') {
      this.#drop();
      this.#begin(b);
    } else if (a == 'resend') this.#prep(b);
    else if (a == 'passkey') {
      this.run(b, async () => (await c.verifyWithPasskey(id)) || c.getVerification(id), done);
    } else if (a == 'submit') {
      const x = form.elements[0].value;
      const s = this.#s;
      this.run(
        b,
        () =>
          c.attemptVerification(id, s == 'password' ? { strategy: s, password: x } : { strategy: s, code: x.trim() }),
        done,
      );
    }
  }

  errVars() {
    return { method: this.#s };
  }

  failed(e, text) {
    if (e?.code == SIGNED_OUT) {
      this.#end(e);
      return true;
    }
    if (e?.code == 'locked' && this.#v) {
      // This method is paused: move on to the best other one, with the reason on top.
      this.#locked[this.#s] = Date.now() + (e.retryAfter ?? 900) * 1000;
      this.#s = pick(this.#list(), this.#locked);
      this.render(1);
      if (this.#s) this.note(text);
      if (this.#s == 'email_code') this.#prep();
      return true;
    }
    // Over, or it could not even start (rate limited, offline): offer a new one.
    if (!DEAD.includes(e?.code) && this.#v) return false;
    this.#dead = true;
    this.render('[data-action=restart]');
    this.note(text);
    return true;
  }

  /** Closes the dialog and rejects with `reverification_cancelled`. */
  cancel() {
    if (!this.#promise) return;
    this.#drop();
    this.#end(new ReverifyError(REVERIFICATION_CANCELLED, 'The user cancelled the verification'));
  }

  /** Tells the server to drop the current verification (best effort). */
  #drop() {
    const id = this.#v?.id;
    this.#v = null;
    if (id)
      Promise.resolve()
        .then(() => this.client.cancelVerification(id))
        .catch(() => {});
  }

  /** Closes; resolves with `r` when `err` is null, else rejects with `err`. */
  #end(err, r) {
    const { res, rej } = this.#settle;
    this.invalidate();
    this.#promise = null;
    this.#v = null;
    const d = this.$('dialog');
    d?.close();
    d?.remove();
    this.#prev?.focus?.();
    this.emit(err ? 'reverify:cancel' : 'reverify:complete', err ? { code: err.code } : r);
    err ? rej(err) : res(r);
  }
}
