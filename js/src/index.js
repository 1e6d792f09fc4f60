// @reverify/browser — the core: a client for the Reverify auth server, and reverification
// (step-up authentication) for any fetcher. Map:
//   errors.js          ReverifyError (stable `code`), REVERIFICATION_CANCELLED, SIGNED_OUT
//   client.js          ReverifyClient: session, tokens, sign-in/up, verification flow, account
//   webauthn.js        passkey options and credentials between JSON and navigator.credentials
//   reverification.js  isReverificationError, withReverification, setDefaultPrompt
// The React hook is `@reverify/browser/react`; the custom elements `@reverify/browser/ui`.
export { ReverifyError, REVERIFICATION_CANCELLED, SIGNED_OUT } from './errors.js';
export { ReverifyClient } from './client.js';
export {
  createPasskey,
  getPasskey,
  parseCreationOptions,
  parseRequestOptions,
  credentialToJSON,
  fromBase64url,
  toBase64url,
} from './webauthn.js';
export { isReverificationError, withReverification, setDefaultPrompt, PRESET_LEVELS } from './reverification.js';
