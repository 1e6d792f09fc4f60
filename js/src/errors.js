/** The `code` of the error every caller gets when the user cancels a reverification. */
export const REVERIFICATION_CANCELLED = 'reverification_cancelled';

/**
 * The `code` of the error a call rejects with when the session is gone (signed out
 * elsewhere, revoked, expired): the server's 401 `signed_out`. The client is then signed
 * out locally, and a reverification prompt that ends with it rejects its calls with it.
 */
export const SIGNED_OUT = 'signed_out';

/**
 * An error with a stable machine `code`. Every non-2xx answer of the auth server becomes
 * one: `code` comes from the server's `{"code","message"}` body (for the reverification
 * error, `reverification-error`), `status` is the HTTP status, `body` the parsed body,
 * `retryAfter` the `Retry-After` header in seconds (423 `locked`, 429).
 *
 * @example
 * try { await client.signInWithPassword(email, password) }
 * catch (e) { if (e.code === 'locked') show(`try again in ${Math.ceil(e.retryAfter / 60)} min`) }
 */
export class ReverifyError extends Error {
  /**
   * @param {string | {code: string, message?: string, status?: number, body?: any, retryAfter?: number | null}} code
   * @param {string} [message]
   * @param {{status?: number, body?: any, retryAfter?: number | null, cause?: unknown}} [init]
   */
  constructor(code, message, init = {}) {
    if (typeof code == 'object') ({ code, message, ...init } = code);
    super(message || code, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ReverifyError';
    /** @type {string} */
    this.code = code;
    /** HTTP status, 0 when no answer came. */
    this.status = init.status ?? 0;
    /** The parsed answer body, or null. */
    this.body = init.body ?? null;
    /** Seconds to wait before trying again, or null. @type {number | null} */
    this.retryAfter = init.retryAfter ?? null;
  }
}
