import { ReverifyError, SIGNED_OUT } from './errors.js';
import { createPasskey, getPasskey } from './webauthn.js';

const enc = encodeURIComponent;
const VERIFICATIONS = '/v1/sessions/current/verifications/';
/** The name of the channel tabs of one origin tell each other of sign-ins and sign-outs on. */
const CHANNEL = 'reverify';
/** Focus and visibility re-check the session at most this often. */
const RECHECK_MS = 5000;

/** The most recently created client: the default of `withReverification` and the hook. */
export let defaultClient = null;

/** Seconds between `iat` and `exp` of a JWT (60 when it cannot be read). */
function lifetime(jwt) {
  try {
    const p = JSON.parse(atob(jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return p.exp - p.iat || 60;
  } catch {
    return 60;
  }
}

/**
 * The browser's connection to a Reverify auth server: session state, session tokens
 * (cached, single-flight, refreshed before expiry), sign-in/up, the verification flow
 * and account management. Every method that talks to the server resolves with the
 * server's JSON and rejects with a {@link ReverifyError}.
 *
 * A session that ends elsewhere (signed out in another tab, revoked, idle) is noticed at
 * once: any answer 401 `signed_out` signs the client out (listeners get `session_ended`),
 * the session is re-checked when the page becomes visible or gets focus, and tabs of the
 * same origin tell each other of sign-ins and sign-outs (`BroadcastChannel('reverify')`).
 *
 * @example
 * const client = new ReverifyClient({ baseUrl: '/auth' });
 * await client.load();
 * const token = await client.getToken(); // for `Authorization: Bearer` cross-origin calls
 */
export class ReverifyClient {
  #fetch;
  #margin;
  #user = null;
  #session = null;
  /** @type {{jwt: string, exp: number, margin: number} | null} */
  #token = null;
  #inflight = null;
  /** The last verification attempt (settled or not): token refreshes wait for it. */
  #attempt = null;
  /** Bumped whenever a token is stored or dropped; a refresh started before is stale. */
  #gen = 0;
  #timer;
  #listeners = new Set();
  /** The cached `environment()` answer (a promise), or null. */
  #env = null;
  /** When the session was last re-checked (ms), for the focus throttle. */
  #checkedAt = -Infinity;
  /** @type {BroadcastChannel | null} */
  #channel = null;

  /**
   * @param {object} [options]
   * @param {string} [options.baseUrl] where the auth server's routes are mounted: `''`
   *   (same origin, root), `'/auth'`, `'https://auth.example.com'`
   * @param {typeof fetch} [options.fetch] defaults to the global `fetch`
   * @param {number} [options.refreshMarginSeconds] refresh a token this long before it
   *   expires (default 10; at most half the token's lifetime)
   */
  constructor({ baseUrl = '', fetch: f, refreshMarginSeconds = 10 } = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.#fetch = f || ((...a) => fetch(...a));
    this.#margin = refreshMarginSeconds * 1000;
    // A hidden page lets its token lapse; coming back refreshes it if it is stale, and
    // re-checks the session (it may have ended meanwhile).
    globalThis.document?.addEventListener?.('visibilitychange', () => {
      this.#tick();
      if (!globalThis.document.hidden) this.#recheck();
    });
    globalThis.window?.addEventListener?.('focus', () => this.#recheck());
    // Another tab of this origin signed in or out: load at once.
    if (typeof globalThis.BroadcastChannel == 'function') {
      this.#channel = new BroadcastChannel(CHANNEL);
      this.#channel.onmessage = () => this.load().catch(() => {});
      /** @type {any} */ (this.#channel).unref?.(); // Node: do not keep the process alive
    }
    defaultClient = this;
  }

  /** The signed-in user, or null (before `load()` too). */
  get user() {
    return this.#user;
  }

  /** The current session, or null. */
  get session() {
    return this.#session;
  }

  /**
   * Calls `listener({user, session, reason})` on sign-in, sign-out and completed
   * verifications. `reason`: `signed_in` (a sign-in here, or a session found by `load()`),
   * `signed_out` (this page called `signOut()` or `deleteAccount()`), `session_ended` (the
   * server says the session is gone: ended elsewhere, revoked, expired) or `verified`.
   * @param {(state: {user: any, session: any, reason: 'signed_in' | 'signed_out' | 'session_ended' | 'verified'}) => void} listener
   * @returns {() => void} unsubscribe
   */
  onChange(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #set(user, session, reason) {
    this.#user = user;
    this.#session = session;
    for (const l of [...this.#listeners]) l({ user, session, reason });
  }

  /** Tells the other tabs of this origin to load (they ask the server themselves). */
  #broadcast() {
    try {
      this.#channel?.postMessage('changed');
    } catch {
      // A closed channel: nothing to tell.
    }
  }

  /** Re-checks the session on focus / visibility: only while signed in, at most every 5 s. */
  #recheck() {
    if (!this.#session || Date.now() - this.#checkedAt < RECHECK_MS) return;
    this.load().catch(() => {});
  }

  #setToken(jwt, expiresIn) {
    this.#gen++;
    const ms = (expiresIn || lifetime(jwt)) * 1000;
    // Local clock only (receipt time + lifetime): a skewed clock cannot break caching.
    this.#token = { jwt, exp: Date.now() + ms, margin: Math.min(this.#margin, ms / 2) };
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#tick(), ms - this.#token.margin);
    this.#timer.unref?.();
  }

  /**
   * Drops the token and, when signed in, tells the listeners why (`signed_out` or
   * `session_ended`). Returns whether a session was dropped.
   */
  #signedOut(reason) {
    this.#gen++;
    this.#token = null;
    clearTimeout(this.#timer);
    if (!this.#user && !this.#session) return false;
    this.#set(null, null, reason);
    return true;
  }

  #fresh() {
    return this.#token && Date.now() < this.#token.exp - this.#token.margin;
  }

  // Keeps the token (and so the `__session` cookie) fresh while the page is visible.
  #tick() {
    if (!this.#token || globalThis.document?.hidden || this.#fresh()) return;
    this.getToken().catch(() => {
      this.#timer = setTimeout(() => this.#tick(), 5000);
      this.#timer.unref?.();
    });
  }

  /**
   * One request to the auth server. A `token` in the answer becomes the current token. An
   * answer 401 `signed_out` (the session is gone) signs the client out — listeners get
   * `session_ended`, other tabs are told — and the call rejects with that error.
   * @param {string} method
   * @param {string} path
   * @param {object} [body]
   */
  async request(method, path, body) {
    const sent = this.#session?.id;
    try {
      return await this.#send(method, path, body);
    } catch (e) {
      // Only the session this request was sent for: one signed in meanwhile stays.
      if (e.status == 401 && e.code == SIGNED_OUT && this.#session?.id === sent && this.#signedOut('session_ended'))
        this.#broadcast();
      throw e;
    }
  }

  /** {@link request} without the sign-out on 401 (the token refresh and `signOut` handle it). */
  async #send(method, path, body) {
    /** @type {RequestInit & {headers: Record<string, string>}} */
    const init = { method, credentials: 'include', headers: { accept: 'application/json' } };
    if (body) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await this.#fetch(this.baseUrl + path, init);
    } catch (e) {
      throw new ReverifyError('network_error', e?.message, { cause: e });
    }
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const ra = res.headers.get('retry-after');
      throw new ReverifyError(
        data?.code || data?.clerk_error?.reason || 'http_' + res.status,
        data?.message || data?.clerk_error?.message || res.statusText,
        {
          status: res.status,
          body: data,
          retryAfter: ra == null || isNaN(+ra) ? null : +ra,
        },
      );
    }
    if (typeof data?.token == 'string') this.#setToken(data.token, data.expires_in);
    return data;
  }

  #signIn(data) {
    if (data?.status == 'complete') {
      this.#set(data.user, data.session, 'signed_in');
      this.#broadcast();
    }
    return data;
  }

  /**
   * Reads the current session (`GET /v1/client`, which answers a signed-out page without
   * an error): `{session, user, reverification}`, or null when signed out.
   * `reverification` says for each preset whether the session satisfies it now and for how
   * many more seconds. A session that was there and is gone fires `session_ended`.
   */
  async load() {
    this.#checkedAt = Date.now();
    const data = await this.#send('GET', '/v1/client');
    if (!data?.session) {
      this.#signedOut('session_ended');
      return null;
    }
    const changed = data.session.id !== this.#session?.id;
    this.#user = data.user;
    this.#session = data.session;
    if (changed) this.#set(data.user, data.session, 'signed_in');
    return data;
  }

  /**
   * What the sign-in screens show before anyone signs in: `{app: {name, logo_url},
   * password: {min_length, max_length}}`. Asked once per client; a failed answer is not
   * kept, so a later call asks again.
   * @returns {Promise<{app: {name: string, logo_url: string | null}, password: {min_length: number, max_length: number | null}}>}
   */
  environment() {
    return (this.#env ??= this.#send('GET', '/v1/environment').catch((e) => {
      this.#env = null;
      throw e;
    }));
  }

  /**
   * A session token (JWT) for this session, or null when signed out. Cached until shortly
   * before it expires; concurrent callers share one request. Calling it also renews the
   * `__session` cookie, which same-origin `fetch('/api/…')` calls carry.
   * @param {{force?: boolean}} [options] `force`: mint a new token even if the cached one is fresh
   * @returns {Promise<string | null>}
   */
  getToken({ force } = {}) {
    // An in-flight refresh goes first, even over a fresh token: its answer may replace the
    // `__session` cookie, so whoever asks now must wait for it (see #refresh).
    if (this.#inflight) return this.#inflight;
    if (!force && this.#fresh()) return Promise.resolve(this.#token.jwt);
    return (this.#inflight = this.#refresh(force).finally(() => (this.#inflight = null)));
  }

  async #refresh(force) {
    // The last verification attempt goes first: its answer may bring a token (see
    // attemptVerification). Only that one: a later attempt waits for this refresh.
    await this.#attempt;
    if (!force && this.#fresh()) return this.#token.jwt;
    for (;;) {
      const gen = this.#gen;
      let data = null;
      try {
        data = await this.#send('POST', '/v1/sessions/current/tokens');
      } catch (e) {
        if (e.status != 401) throw e;
      }
      if (gen === this.#gen) {
        if (!data) {
          if (this.#signedOut('session_ended')) this.#broadcast();
          return null;
        }
        this.#setToken(data.jwt, data.expires_in);
        return data.jwt;
      }
      // A sign-in or a completed verification stored a token while this one was being
      // minted: this answer may predate it, and its cookie may have replaced the newer one.
      // Mint again so that both the token and the cookie are the newest.
    }
  }

  // ---- sign-in, sign-up, sign-out

  /** Password sign-in: `{status: "complete", user, session, token}` or `{id, status: "needs_second_factor", supported_second_factors}`. */
  signInWithPassword(email, password) {
    return this.request('POST', '/v1/sign_ins', { email, password }).then((d) => this.#signIn(d));
  }

  /** Emails a sign-in code: `{id, status: "needs_email_code", email}`; finish with `attemptSignIn`. */
  signInWithEmailCode(email) {
    return this.request('POST', '/v1/sign_ins', { email, strategy: 'email_code' });
  }

  /**
   * Attempts a code for a sign-in (the emailed code, or `totp` / `backup_code` at
   * `needs_second_factor`).
   * @param {string} id
   * @param {{code: string, strategy?: 'email_code' | 'totp' | 'backup_code'}} attempt
   */
  attemptSignIn(id, { code, strategy }) {
    return this.request('POST', `/v1/sign_ins/${enc(id)}/attempt`, { code, strategy }).then((d) => this.#signIn(d));
  }

  /** Starts a sign-up; emails a code: `{id, status: "needs_email_code", email, expires_at}`. */
  signUp(email, password) {
    return this.request('POST', '/v1/sign_ups', { email, password });
  }

  /** Confirms a sign-up with the emailed code; signed in. */
  attemptSignUp(id, code) {
    return this.request('POST', `/v1/sign_ups/${enc(id)}/attempt`, { code }).then((d) => this.#signIn(d));
  }

  /** Starts a passkey sign-in: `{id, publicKey}` (options for `navigator.credentials.get`). */
  startPasskeySignIn() {
    return this.request('POST', '/v1/sign_ins/passkey');
  }

  /** Finishes a passkey sign-in with the assertion as JSON; signed in. */
  finishPasskeySignIn(id, credential) {
    return this.request('POST', `/v1/sign_ins/passkey/${enc(id)}`, { credential }).then((d) => this.#signIn(d));
  }

  /** Signs in with any passkey of this site (start → browser prompt → finish). */
  async signInWithPasskey() {
    const start = await this.startPasskeySignIn();
    return this.finishPasskeySignIn(start.id, await getPasskey(start));
  }

  /** Ends this session (the server clears both cookies); listeners get `signed_out`, other tabs are told. */
  async signOut() {
    try {
      await this.#send('DELETE', '/v1/sessions/current');
    } catch (e) {
      if (e.status != 401) throw e;
    }
    this.#signedOut('signed_out');
    this.#broadcast();
  }

  // ---- the verification flow (reverification)

  /**
   * Starts a verification of this session for a level: the verification, whose `status`
   * (`needs_first_factor`, `needs_second_factor`, `complete`) says what to ask for. With an
   * `action` (exactly as the reverification error's `metadata.action` gave it), completing
   * it approves that action once: the completion's token carries the approval.
   * @param {'first_factor' | 'second_factor' | 'multi_factor'} [level]
   * @param {{type: string, summary: string, fields?: Record<string, string>, digest?: string}} [action]
   */
  startVerification(level = 'second_factor', action) {
    return this.request('POST', '/v1/sessions/current/verifications', { level, action });
  }

  /**
   * Sends the email code, or gets a passkey challenge (`passkey.publicKey` in the answer).
   * @param {string} id
   * @param {'email_code' | 'passkey'} strategy
   */
  prepareVerification(id, strategy) {
    return this.request('POST', VERIFICATIONS + enc(id) + '/prepare', { strategy });
  }

  /**
   * Attempts a factor: `{strategy: "password", password}`, `{strategy: "email_code" |
   * "totp" | "backup_code", code}` or `{strategy: "passkey", credential}`. On `complete` the
   * answer's fresh token becomes the current token before this resolves.
   * @param {string} id
   * @param {object} body
   */
  attemptVerification(id, body) {
    // A token refresh in flight goes first, and new ones wait for this attempt: the
    // completion's token (and its `__session` cookie), which may carry an approval no
    // refresh carries, must land last.
    const p = Promise.resolve(this.#inflight)
      .catch(() => {})
      .then(() => this.request('POST', VERIFICATIONS + enc(id) + '/attempt', body));
    this.#attempt = p.catch(() => {});
    return p.then((d) => this.#verified(d));
  }

  #verified(data) {
    if (data?.verification?.status == 'complete') this.#set(this.#user, data.session, 'verified');
    return data;
  }

  /** Cancels a verification. */
  cancelVerification(id) {
    return this.request('DELETE', VERIFICATIONS + enc(id));
  }

  /** Reads a verification. */
  getVerification(id) {
    return this.request('GET', VERIFICATIONS + enc(id));
  }

  /** Verifies with a passkey: prepare → browser prompt → attempt. */
  async verifyWithPasskey(id) {
    const prepared = await this.prepareVerification(id, 'passkey');
    return this.attemptVerification(id, { strategy: 'passkey', credential: await getPasskey(prepared.passkey) });
  }

  // ---- the account (sensitive calls may answer with the reverification error)

  /** `{user, factors, session, reverification}`. */
  me() {
    return this.request('GET', '/v1/me');
  }

  /**
   * @param {string} newPassword
   * @param {{signOutOtherSessions?: boolean}} [options] the server's default ends them
   */
  changePassword(newPassword, { signOutOtherSessions } = {}) {
    return this.request('POST', '/v1/me/password', {
      new_password: newPassword,
      sign_out_other_sessions: signOutOtherSessions,
    });
  }

  /** Starts enrolling an authenticator app: `{secret, uri, qr_svg, digits, period}`. */
  startTotp() {
    return this.request('POST', '/v1/me/totp');
  }

  /** Confirms the app with a first code: `{status: "confirmed", backup_codes}` (shown once). */
  confirmTotp(code) {
    return this.request('POST', '/v1/me/totp/confirm', { code });
  }

  /** Removes the authenticator app and the backup codes. */
  removeTotp() {
    return this.request('DELETE', '/v1/me/totp');
  }

  /** A new set of backup codes (the old set stops working): `{backup_codes}`. */
  regenerateBackupCodes() {
    return this.request('POST', '/v1/me/backup_codes');
  }

  /** `{passkeys: [{id, name, created_at, last_used_at}]}`. */
  listPasskeys() {
    return this.request('GET', '/v1/me/passkeys');
  }

  /** Adds a passkey (start → browser prompt → finish). */
  async registerPasskey(name) {
    const start = await this.request('POST', '/v1/me/passkeys/registrations');
    return this.request('POST', '/v1/me/passkeys/registrations/' + enc(start.id), {
      credential: await createPasskey(start),
      name,
    });
  }

  renamePasskey(id, name) {
    return this.request('PATCH', '/v1/me/passkeys/' + enc(id), { name });
  }

  deletePasskey(id) {
    return this.request('DELETE', '/v1/me/passkeys/' + enc(id));
  }

  /** Your open sessions (`current: true` marks this one). */
  listSessions() {
    return this.request('GET', '/v1/sessions');
  }

  /** Revokes one of your sessions. */
  revokeSession(id) {
    return this.request('DELETE', '/v1/sessions/' + enc(id));
  }

  /** Deletes the account; signed out. */
  async deleteAccount() {
    const data = await this.request('DELETE', '/v1/me');
    this.#signedOut('signed_out');
    this.#broadcast();
    return data;
  }
}
