import { ReverifyError, REVERIFICATION_CANCELLED } from '../index.js';
import { Base, canPasskey, pick, link } from './base.js';
import { t, esc } from './strings.js';

// Errors after which this verification is over: offer to start a new one.
const DEAD = ['too_many_attempts', 'verification_expired', 'verification_ended', 'not_found'];

// The contract names the class and its fields but not its constructor: set them here.
function cancelled() {
  const message = 'The user cancelled the verification';
  let e;
  try {
    e = new ReverifyError(REVERIFICATION_CANCELLED, message);
  } catch {
    e = new Error(message);
  }
  return Object.assign(e, { message, code: REVERIFICATION_CANCELLED });
}

/**
 * <reverify-verification-modal>: `open({ level, client })` shows a modal dialog that
 * verifies the signed-in user again (step-up) and resolves when the server says
 * `complete`, or rejects with a ReverifyError `reverification_cancelled` on Escape,
 * the close button, or `cancel()`. Events: `reverify:complete`, `reverify:cancel`.
 */
export class VerificationModal extends Base {
  constructor() {
    super();
    this.g = 0;
  }

  open({ level = 'second_factor', client } = {}) {
    if (this.p) return this.p;
    if (client) this.c = client;
    if (!this.c) return Promise.reject(new TypeError('open() needs a client'));
    this.level = level;
    this.prev = document.activeElement;
    this.p = new Promise((res, rej) => {
      this.res = res;
      this.rej = rej;
    });
    if (!this.isConnected) document.body.append(this);
    this.innerHTML = `<dialog class="rv-dlg" role="dialog" aria-modal="true" aria-labelledby="${this.u}t" aria-describedby="${this.u}d">${this.shell(
      `<button type="button" class="rv-x" data-action="cancel" aria-label="${t('cancel')}">×</button>`,
    )}</dialog>`;
    const d = this.q('dialog');
    // Escape fires "cancel" (not always cancelable); any other close also counts as cancel.
    d.addEventListener('cancel', (e) => {
      e.preventDefault();
      this.cancel();
    });
    d.addEventListener('close', () => d.isConnected && this.cancel());
    d.addEventListener('keydown', (e) => this.trap(e));
    d.showModal();
    this.begin();
    return this.p;
  }

  /** Keeps Tab and Shift+Tab cycling inside the dialog. */
  trap(e) {
    if (e.key != 'Tab') return;
    const f = [...this.querySelectorAll('button,input,a[href],[tabindex]')].filter(
      (x) => !x.disabled && x.tabIndex >= 0 && x.getClientRects().length,
    );
    const i = f.indexOf(document.activeElement);
    if (e.shiftKey ? i < 1 : i < 0 || i == f.length - 1) {
      e.preventDefault();
      f.at(e.shiftKey ? -1 : 0)?.focus();
    }
  }

  begin(b) {
    this.v = null;
    this.dead = 0;
    this.sent = {};
    this.paint();
    this.run(
      b,
      () => this.c.startVerification(this.level),
      (v) => this.set(v),
    );
  }

  /** Shows a verification (or closes on `complete`: the answer then nests it). */
  set(a) {
    const v = a.verification || a;
    if (v.status == 'complete') return this.end(1, a);
    this.v = v;
    this.dead = v.status == 'cancelled';
    const list = this.list();
    if (!list.some((f) => f.strategy == this.s)) this.s = pick(list);
    this.paint(1);
    if (this.s == 'email_code') this.prep();
  }

  list() {
    const v = this.v;
    return ((v.status == 'needs_second_factor' ? v.supported_second_factors : v.supported_first_factors) || []).filter(
      (f) => f.strategy != 'passkey' || canPasskey(),
    );
  }

  /** Sends the email code once per verification (`b`: the resend button, to send again). */
  prep(b) {
    const id = this.v.id;
    if (!b && this.sent[id]) return;
    this.sent[id] = 1;
    this.run(
      b || this.q('[data-action=submit]'),
      () =>
        this.c.prepareVerification(id, 'email_code').catch((e) => {
          this.sent[id] = 0;
          throw e;
        }),
      () => {
        if (b) {
          this.ok = t('sent');
          this.paint('[name=code]');
        }
      },
    );
  }

  view() {
    const { v, s, u } = this;
    let body = `<p class="rv-mu" id="${u}d">${t('loading')}</p>`;
    if (this.dead) body = `<button type="button" class="rv-b" data-action="restart">${t('startOver')}</button>`;
    else if (v) {
      const list = this.list();
      const email = list.find((f) => f.strategy == s)?.safe_identifier;
      const others = list.filter((f) => f.strategy != s);
      body =
        `<p id="${u}d">${t(v.status)} ${t('d_' + s, { email })}</p>` +
        (s == 'passkey'
          ? `<button type="button" class="rv-b" data-action="passkey">${t('usePasskey')}</button>`
          : this.form(
              s == 'password'
                ? this.field('password', t('password'), 'type="password" required autocomplete="current-password"')
                : this.code(s),
              t('continue'),
            )) +
        (s == 'email_code' ? link('data-action="resend"', t('resend')) : '') +
        (others.length
          ? `<div class="rv-alt" role="group" aria-labelledby="${u}o"><p id="${u}o" class="rv-mu">${t('other')}</p>${others
              .map((f) =>
                link(`data-strategy="${esc(f.strategy)}"`, t('s_' + f.strategy, { email: f.safe_identifier })),
              )
              .join('')}</div>`
          : '');
    }
    return [t('verifyTitle'), body, this.dead ? 'dead' : v ? v.status : 'loading'];
  }

  act(a, b, form) {
    const id = this.v?.id;
    const done = (r) => this.set(r);
    if (a == 'strategy') {
      this.s = b.dataset.strategy;
      this.err = this.ok = '';
      this.paint(1);
      if (this.s == 'email_code') this.prep();
    } else if (a == 'restart') {
      this.drop();
      this.begin(b);
    } else if (a == 'resend') this.prep(b);
    else if (a == 'passkey') {
      this.run(b, async () => (await this.c.verifyWithPasskey(id)) || this.c.getVerification(id), done);
    } else if (a == 'submit') {
      const x = form.elements[0].value;
      const s = this.s;
      this.run(
        b,
        () =>
          this.c.attemptVerification(
            id,
            s == 'password' ? { strategy: s, password: x } : { strategy: s, code: x.trim() },
          ),
        done,
      );
    }
  }

  method() {
    return this.s;
  }

  fail(e) {
    // Over, or it could not even start (signed out, rate limited, offline): offer a new one.
    if (DEAD.includes(e?.code) || !this.v) this.dead = 1;
    super.fail(e);
  }

  /** Closes the dialog and rejects with `reverification_cancelled`. */
  cancel() {
    if (!this.p) return;
    this.drop();
    this.end(0);
  }

  /** Tells the server to drop the current verification (best effort). */
  drop() {
    const id = this.v?.id;
    this.v = null;
    if (id)
      Promise.resolve()
        .then(() => this.c.cancelVerification(id))
        .catch(() => {});
  }

  end(ok, r) {
    const { res, rej, prev } = this;
    this.g++;
    this.p = null;
    this.busy = 0;
    this.q('dialog')?.close();
    this.innerHTML = '';
    prev?.focus?.();
    this.emit(ok ? 'reverify:complete' : 'reverify:cancel', r);
    ok ? res(r) : rej(cancelled());
  }
}
