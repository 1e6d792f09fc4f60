import { Base, canPasskey, pick, link } from './base.js';
import { t, esc } from './strings.js';

// Errors after which the flow is over: back to the first step.
const OVER = ['sign_in_expired', 'too_many_attempts', 'flow_completed', 'code_expired', 'not_found'];

const pwField = (el, auto) => el.field('password', t('password'), `type="password" required autocomplete="${auto}"`);
const emailField = (el, auto) =>
  el.field('email', t('email'), `type="email" required autocomplete="${auto}" value="${esc(el.email)}"`);
const alt = (...x) => `<div class="rv-alt">${x.join('')}</div>`;
const again = () => link('data-action="restart"', t('startOver'));

/**
 * <reverify-sign-in>: password or emailed code, then the second factor (authenticator
 * app or backup code) when the account has one; a passkey button where the browser has
 * WebAuthn (hide it with the `no-passkey` attribute). Fires `reverify:signed-in` with
 * the server's answer ({ status: "complete", session, user, token }).
 */
export class SignIn extends Base {
  start() {
    this.step = this.first = 'password';
    this.paint();
  }

  view() {
    const { step, s } = this;
    const pk =
      canPasskey() && !this.hasAttribute('no-passkey')
        ? `<button type="button" class="rv-b2" data-action="passkey">${t('passkeySignIn')}</button>`
        : '';
    if (step == 'password')
      return [
        t('signIn'),
        this.form(emailField(this, 'username') + pwField(this, 'current-password'), t('signIn')) +
          alt(link('data-strategy="email_code"', t('emailCode')), pk),
        step,
      ];
    if (step == 'email')
      return [
        t('signIn'),
        this.form(emailField(this, 'username'), t('sendCode')) +
          alt(link('data-strategy="password"', t('usePassword')), pk),
        step,
      ];
    if (step == 'code')
      return [
        t('checkEmail'),
        `<p>${t('codeSentTo', { email: this.masked })}</p>` + this.form(this.code(), t('continue')) + alt(again()),
        step,
      ];
    if (step == 'second')
      return [
        t('secondTitle'),
        `<p>${t('d_' + s)}</p>` +
          this.form(this.code(s), t('continue')) +
          alt(
            ...this.f
              .filter((f) => f.strategy != s)
              .map((f) => link(`data-strategy="${esc(f.strategy)}"`, t('s_' + f.strategy))),
            again(),
          ),
        step,
      ];
    return [t('signIn'), '', step];
  }

  act(a, b, form) {
    const { c, step } = this;
    const next = (r) => this.next(r);
    this.email = this.q('[name=email]')?.value.trim() ?? this.email;
    if (a == 'strategy') {
      const s = b.dataset.strategy;
      if (step == 'second') this.s = s;
      else this.step = this.first = s == 'password' ? s : 'email';
      this.err = this.ok = '';
      this.paint(1);
    } else if (a == 'restart') {
      this.step = this.first;
      this.err = this.ok = '';
      this.paint(1);
    } else if (a == 'passkey') this.run(b, () => c.signInWithPasskey(), next);
    else if (a == 'submit') {
      const code = form.elements.code?.value.trim();
      this.run(
        b,
        () =>
          step == 'password'
            ? c.signInWithPassword(this.email, form.elements.password.value)
            : step == 'email'
              ? c.signInWithEmailCode(this.email)
              : c.attemptSignIn(this.id, { code, strategy: step == 'code' ? 'email_code' : this.s }),
        next,
      );
    }
  }

  next(r) {
    this.id = r.id;
    if (r.status == 'complete') {
      this.step = 'done';
      this.ok = t('signedIn');
      this.paint();
      return this.emit('reverify:signed-in', r);
    }
    if (r.status == 'needs_second_factor') {
      this.step = 'second';
      // A passkey as the second step of a sign-in has no client call in the contract.
      this.f = (r.supported_second_factors || [{ strategy: 'totp' }]).filter((f) => f.strategy != 'passkey');
      this.s = pick(this.f);
    } else {
      this.step = 'code';
      this.masked = r.email || this.email;
    }
    this.paint(1);
  }

  method() {
    return { password: 'password', code: 'email_code', second: this.s }[this.step];
  }

  fail(e) {
    if (OVER.includes(e?.code) && this.step != this.first) this.step = this.first;
    super.fail(e);
  }
}

/**
 * <reverify-sign-up>: email and password, then the code emailed to confirm the address.
 * Fires `reverify:signed-up` with the server's answer ({ status: "complete", session, user, token }).
 */
export class SignUp extends Base {
  start() {
    this.step = 'form';
    this.paint();
  }

  view() {
    const { step } = this;
    if (step == 'form')
      return [t('signUp'), this.form(emailField(this, 'email') + pwField(this, 'new-password'), t('signUpBtn')), step];
    if (step == 'code')
      return [
        t('checkEmail'),
        `<p>${t('codeSentTo', { email: this.masked })}</p>` + this.form(this.code(), t('continue')) + alt(again()),
        step,
      ];
    return [t('signUp'), '', step];
  }

  act(a, b, form) {
    const c = this.c;
    if (a == 'restart') {
      this.step = 'form';
      this.err = this.ok = '';
      this.paint(1);
    } else if (a == 'submit' && this.step == 'form') {
      this.email = form.elements.email.value.trim();
      this.run(
        b,
        () => c.signUp(this.email, form.elements.password.value),
        (r) => {
          this.id = r.id;
          this.masked = r.email || this.email;
          this.step = 'code';
          this.paint(1);
        },
      );
    } else if (a == 'submit') {
      this.run(
        b,
        () => c.attemptSignUp(this.id, form.elements.code.value.trim()),
        (r) => {
          this.step = 'done';
          this.ok = t('signedUp');
          this.paint();
          this.emit('reverify:signed-up', r);
        },
      );
    }
  }

  fail(e) {
    if (OVER.includes(e?.code)) this.step = 'form';
    super.fail(e);
  }
}
