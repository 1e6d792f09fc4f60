// @reverify/browser/ui: custom elements for sign-in, sign-up, the account page and the
// reverification modal. Importing this module defines the elements (once, even if
// imported twice) and makes the modal the default prompt of `withReverification`.
import { setDefaultPrompt } from '../index.js';
import { VerificationModal } from './modal.js';
import { Account } from './account.js';
import { SignIn, SignUp } from './forms.js';

export { setStrings, strings } from './strings.js';
export { VerificationModal, SignIn, SignUp, Account };

const elements = {
  'reverify-verification-modal': VerificationModal,
  'reverify-sign-in': SignIn,
  'reverify-sign-up': SignUp,
  'reverify-account': Account,
};

/** Opens a verification modal for `level` (and `action`, to approve); resolves on complete,
 * rejects with a ReverifyError `reverification_cancelled` (the user gave up) or `signed_out`
 * (the session ended). */
export function openVerification(options) {
  const m = document.createElement('reverify-verification-modal');
  document.body.append(m);
  return m.open(options).finally(() => m.remove());
}

if (globalThis.customElements) {
  for (const name in elements) customElements.get(name) || customElements.define(name, elements[name]);
  setDefaultPrompt(openVerification);
}
