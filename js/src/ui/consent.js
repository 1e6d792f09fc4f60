// The OpenID provider's consent screen, for the server's hosted page (`/oauth/hosted.js`
// imports it from the server's `/sdk/`). Kept out of `ui/index.js`: apps do not need it,
// and it stays out of their bundle.
import { Base, identity, button } from './base.js';
import { t, esc, strings } from './strings.js';

// Its texts, in the shared table (a `setStrings` made before this module loads wins).
const TEXTS = {
  consentTitle: 'Allow {app}?',
  consentLead: '{app} asks to access your account.',
  consentAsks: 'What {app} asks for',
  consentBefore: 'You already allowed it to:',
  consentRevocable: 'You can take this access back at any time from your account.',
  scope_openid: 'Know who you are',
  scope_email: 'See your email address',
  scope_offline_access: 'Stay signed in: access your account while you are away',
  allow: 'Allow',
  deny: 'Deny',
  consentSent: 'Going back to the application…',
  e_consent_invalid: 'This request expired or was already answered. Go back to the application and start again.',
};
for (const k in TEXTS) if (!Object.hasOwn(strings, k)) strings[k] = TEXTS[k];

/** The scope's words: the strings table's `scope_<name>`, else the server's description. */
const words = (s) => (Object.hasOwn(strings, 'scope_' + s.scope) ? t('scope_' + s.scope) : esc(s.description));

const list = (label, items) =>
  `<ul class="list" part="list" aria-label="${label}">${items.map((s) => `<li class="item" part="item">${words(s)}</li>`).join('')}</ul>`;

/**
 * <reverify-consent>: asks the signed-in user whether an application may access their
 * account (the OpenID provider's consent screen). Attributes: `app` (its name), `account`
 * (the signed-in email), `scopes` (JSON `[{scope, description}]`: what it asks for now),
 * `granted` (the same, allowed before). The `decide` property, `async (decision) => …` with
 * `"allow"` or `"deny"`, sends the answer; it runs with the pressed button busy, its error is
 * shown on the card, and once it succeeds the buttons are gone.
 * Events: `reverify:consent` (detail `{ decision }`), before `decide` runs.
 */
export class Consent extends Base {
  /** @type {null | ((decision: 'allow' | 'deny') => Promise<unknown>)} */
  decide = null;
  #done = false;

  connectedCallback() {
    super.connectedCallback();
    // It needs no client to ask: render at once.
    if (!this.shadowRoot.querySelector('.card')) this.render();
  }

  reset() {
    this.render();
  }

  sessionChanged({ user } = {}) {
    if (user || this.#done) return;
    this.invalidate();
    this.note(t('e_signed_out'));
  }

  #json(name) {
    try {
      const v = JSON.parse(this.getAttribute(name) || '[]');
      return Array.isArray(v) ? v : [];
    } catch {
      return [];
    }
  }

  view() {
    const app = this.getAttribute('app') || '';
    const granted = this.#json('granted');
    return {
      title: t('consentTitle', { app }),
      lead: t('consentLead', { app }),
      id: identity(this.getAttribute('account')),
      body: this.#done
        ? `<p class="mu">${t('consentSent')}</p>`
        : list(t('consentAsks', { app }), this.#json('scopes')) +
          (granted.length ? `<p class="mu">${t('consentBefore')}</p>${list(t('consentBefore'), granted)}` : '') +
          `<p class="hint">${t('consentRevocable')}</p><div class="row">${button('deny', t('deny'), 'b2')}${button('allow', t('allow'))}</div>`,
      step: this.#done ? 'done' : 'ask',
    };
  }

  act(a, b) {
    if (a != 'allow' && a != 'deny') return;
    this.emit('reverify:consent', { decision: a });
    this.run(
      b,
      () => this.decide?.(a),
      () => {
        this.#done = true;
        this.render('h2');
      },
    );
  }
}

if (globalThis.customElements && !customElements.get('reverify-consent'))
  customElements.define('reverify-consent', Consent);
