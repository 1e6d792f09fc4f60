import { Base, canPasskey, pick, link, identity, lastMethod, button } from './base.js';
import { t, esc } from './strings.js';

// Errors after which the flow is over: back to the first step.
const OVER = ['sign_in_expired', 'too_many_attempts', 'flow_completed', 'code_expired', 'not_found'];

const pwField = (el, auto, hint) =>
  el.field('password', t('password'), `type="password" required autocomplete="${auto}"`, hint);
const emailField = (el, auto, value) =>
  el.field('email', t('email'), `type="email" required autocomplete="${auto}" value="${esc(value)}"`);
const alt = (...x) => `<div class="alt">${x.join('')}</div>`;
const again = () => link('data-action="restart"', t('startOver'));
const signedIn = (el, email) => ({
  title: t('signIn'),
  lead: t('signedInAs', { email }),
  body: button('sign-out', t('signOut'), 'b2'),
  step: 'done',
});

/** The password rule from the server's environment (8 until it is known). */
const minLength = async (c) => (await Promise.resolve(c.environment?.()).catch(() => null))?.password?.min_length || 8;

/**
 * <reverify-sign-in>: password or emailed code, then the second step (authenticator app or
 * backup code) when the account has one; a passkey button where the browser has WebAuthn
 * (hide it with the `no-passkey` attribute). Follows the client's session: signed in, it
 * says as whom (with a sign-out button); signed out (here or elsewhere), it shows the form
 * again. Fires `reverify:signed-in` with the server's answer ({ status: "complete", session,
 * user, token }).
 */
export class SignIn extends Base {
  #step = 'password';
  #first = 'password';
  #email = '';
  #masked = '';
  #id = null;
  #factors = [];
  #s = null;

  reset() {
    this.#step = this.client.user ? 'done' : this.#first;
    this.render();
  }

  sessionChanged({ user } = {}) {
    if (!!user == (this.#step == 'done')) return;
    this.invalidate();
    this.#step = user ? 'done' : this.#first;
    this.clear();
    this.render();
  }

  view() {
    const s = this.#s;
    const step = this.#step;
    const pk = canPasskey() && !this.hasAttribute('no-passkey') ? button('passkey', t('passkeySignIn'), 'b2') : '';
    if (step == 'password')
      return {
        title: t('signIn'),
        body:
          this.form(emailField(this, 'username', this.#email) + pwField(this, 'current-password'), t('signIn')) +
          alt(link('data-strategy="email_code"', t('emailCode')), pk),
        step,
      };
    if (step == 'email')
      return {
        title: t('signIn'),
        body:
          this.form(emailField(this, 'username', this.#email), t('sendCode')) +
          alt(link('data-strategy="password"', t('usePassword')), pk),
        step,
      };
    if (step == 'code')
      return {
        title: t('checkEmail'),
        lead: t('codeSentTo', { email: this.#masked }),
        body: this.form(this.code(), t('continue')) + alt(again()),
        step,
      };
    if (step == 'second')
      return {
        title: t('secondTitle'),
        lead: t('d_' + s),
        id: identity(this.#email),
        body:
          this.form(this.code(s), t('continue')) +
          alt(
            ...this.#factors
              .filter((f) => f.strategy != s)
              .map((f) => link(`data-strategy="${esc(f.strategy)}"`, t('s_' + f.strategy))),
            again(),
          ),
        step,
      };
    return signedIn(this, this.client?.user?.email || this.#email);
  }

  act(a, b, form) {
    const c = this.client;
    const step = this.#step;
    const next = (r) => this.#next(r);
    this.#email = this.$('[name=email]')?.value.trim() ?? this.#email;
    if (a == 'strategy') {
      const s = b.dataset.strategy;
      if (step == 'second') this.#s = s;
      else this.#step = this.#first = s == 'password' ? s : 'email';
      this.clear();
      this.render(1);
    } else if (a == 'restart') {
      this.#step = this.#first;
      this.clear();
      this.render(1);
    } else if (a == 'sign-out') this.run(b, () => c.signOut());
    else if (a == 'passkey') {
      this.#s = 'passkey';
      this.run(b, () => c.signInWithPasskey(), next);
    } else if (a == 'submit') {
      const code = form.elements.code?.value.trim();
      if (step != 'second') this.#s = step == 'password' ? 'password' : 'email_code';
      this.run(
        b,
        () =>
          step == 'password'
            ? c.signInWithPassword(this.#email, form.elements.password.value)
            : step == 'email'
              ? c.signInWithEmailCode(this.#email)
              : c.attemptSignIn(this.#id, { code, strategy: this.#s }),
        next,
      );
    }
  }

  #next(r) {
    this.#id = r.id;
    if (r.status == 'complete') {
      lastMethod(this.#s);
      this.#step = 'done';
      // The form that had the focus is gone: the focus goes to the title, not to <body>.
      this.render('h2');
      return this.emit('reverify:signed-in', r);
    }
    if (r.status == 'needs_second_factor') {
      this.#step = 'second';
      // A passkey as the second step of a sign-in has no client call in the contract.
      this.#factors = (r.supported_second_factors || [{ strategy: 'totp' }]).filter((f) => f.strategy != 'passkey');
      this.#s = pick(this.#factors);
    } else {
      this.#step = 'code';
      this.#masked = r.email || this.#email;
    }
    this.render(1);
  }

  errVars() {
    // The method last tried (set on every submit and passkey attempt).
    return { method: this.#s };
  }

  failed(e, text) {
    if (!OVER.includes(e?.code) || this.#step == this.#first) return false;
    this.#step = this.#first;
    this.render(1);
    this.note(text);
    return true;
  }
}

/**
 * <reverify-sign-up>: email and password (the password rule is stated up front), then the
 * code emailed to confirm the address. Follows the client's session like the sign-in.
 * Fires `reverify:signed-up` with the server's answer ({ status: "complete", session, user,
 * token }).
 */
export class SignUp extends Base {
  #step = 'form';
  #email = '';
  #masked = '';
  #id = null;
  #min = 8;

  reset() {
    this.#step = this.client.user ? 'done' : 'form';
    this.render();
    minLength(this.client).then((n) => {
      if (n == this.#min) return;
      this.#min = n;
      if (this.#step == 'form') this.$('.hint').textContent = t('pwRule', { n });
    });
  }

  sessionChanged({ user } = {}) {
    if (!!user == (this.#step == 'done')) return;
    this.invalidate();
    this.#step = user ? 'done' : 'form';
    this.clear();
    this.render();
  }

  view() {
    const step = this.#step;
    if (step == 'form')
      return {
        title: t('signUp'),
        body: this.form(
          emailField(this, 'email', this.#email) +
            pwField(this, 'new-password', t('pwRule', { n: this.#min })).replace(
              'required',
              `required minlength="${this.#min}"`,
            ),
          t('signUpBtn'),
        ),
        step,
      };
    if (step == 'code')
      return {
        title: t('checkEmail'),
        lead: t('codeSentTo', { email: this.#masked }),
        body: this.form(this.code(), t('continue')) + alt(again()),
        step,
      };
    return { ...signedIn(this, this.client?.user?.email || this.#email), title: t('signUp') };
  }

  act(a, b, form) {
    const c = this.client;
    if (a == 'restart') {
      this.#step = 'form';
      this.clear();
      this.render(1);
    } else if (a == 'sign-out') this.run(b, () => c.signOut());
    else if (a == 'submit' && this.#step == 'form') {
      this.#email = form.elements.email.value.trim();
      this.run(
        b,
        () => c.signUp(this.#email, form.elements.password.value),
        (r) => {
          this.#id = r.id;
          this.#masked = r.email || this.#email;
          this.#step = 'code';
          this.render(1);
        },
      );
    } else if (a == 'submit') {
      this.run(
        b,
        () => c.attemptSignUp(this.#id, form.elements.code.value.trim()),
        (r) => {
          this.#step = 'done';
          this.render('h2');
          this.emit('reverify:signed-up', r);
        },
      );
    }
  }

  errVars() {
    return { n: this.#min };
  }

  failed(e, text) {
    if (!OVER.includes(e?.code)) return false;
    this.#step = 'form';
    this.render(1);
    this.note(text);
    return true;
  }
}
