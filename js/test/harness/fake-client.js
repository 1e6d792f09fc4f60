// A scripted stand-in for ReverifyClient (CONTRACT.md). `fakeClient(script)`: for each
// method, an answer or a list of answers used in turn (the last one repeats):
//   { ok: value }                       resolve with value
//   { error: { code, status, retryAfter, message } }   reject with a ReverifyError
//   { dom: 'NotAllowedError' }          reject with a DOMException (WebAuthn)
//   { hold: 'name', ...}                wait for window.release('name') first
// A method without a script resolves with {} (environment(): rejects, like an old server). Every call is recorded in client.calls.
import { ReverifyError } from '/src/index.js';

const METHODS = `load getToken signInWithPassword signInWithEmailCode attemptSignIn signUp attemptSignUp
startPasskeySignIn finishPasskeySignIn signInWithPasskey signOut startVerification prepareVerification
attemptVerification cancelVerification getVerification verifyWithPasskey me changePassword startTotp
confirmTotp removeTotp regenerateBackupCodes listPasskeys registerPasskey renamePasskey deletePasskey
deleteAccount environment listSessions revokeSession`.split(/\s+/);

const holds = {};
window.release = (name) => holds[name]?.();

export function fakeClient(script = {}) {
  const calls = [];
  // Session state as the real client keeps it: `user` (undefined until known), listeners
  // told by `client.emit({ user, session, reason })`.
  const listeners = new Set();
  const client = {
    calls,
    user: script.user,
    onChange: (l) => (listeners.add(l), () => listeners.delete(l)),
    emit(state) {
      client.user = state.user;
      for (const l of [...listeners]) l(state);
    },
    listeners: () => listeners.size,
  };
  for (const m of METHODS) {
    client[m] = async (...args) => {
      // Trailing undefined arguments dropped: `startVerification(level, undefined)` is `(level)`.
      while (args.length && args.at(-1) === undefined) args.pop();
      calls.push([m, ...args]);
      const q = script[m];
      const r =
        (Array.isArray(q) ? (q.length > 1 ? q.shift() : q[0]) : q) ||
        (m == 'environment' ? { error: { code: 'not_found', status: 404 } } : { ok: {} });
      if (r.hold) await new Promise((res) => (holds[r.hold] = res));
      if (r.error) throw new ReverifyError(r.error.code, r.error.message, r.error);
      if (r.dom) throw new DOMException('WebAuthn failed', r.dom);
      return r.ok;
    };
  }
  return client;
}
