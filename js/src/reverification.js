import { defaultClient } from './client.js';
import { REVERIFICATION_CANCELLED, ReverifyError } from './errors.js';

const ORDER = ['first_factor', 'second_factor', 'multi_factor'];
/** The level each preset policy asks for. */
export const PRESET_LEVELS = {
  strict_mfa: 'multi_factor',
  strict: 'second_factor',
  moderate: 'second_factor',
  lax: 'second_factor',
};

/** @type {((args: {level: string, client: any}) => Promise<void>) | null} */
let defaultPrompt = null;
/** The open prompt of each client: concurrent calls share it. */
const prompts = new Map();
/** How many prompts of each client completed: a call that started before the last one
 * completed retries without asking again (its request predates the verification). */
const completed = new Map();

/**
 * Registers the prompt `withReverification` opens when the caller gave no
 * `onNeedsReverification` (the UI module registers its modal when imported). The prompt
 * resolves once the session is verified and rejects (with code `reverification_cancelled`)
 * when the user gives up.
 * @param {((args: {level: string, client: any}) => Promise<void>) | null} fn
 */
export function setDefaultPrompt(fn) {
  defaultPrompt = fn;
}

/** The level a policy names (a preset or `{level, afterMinutes}`), else `second_factor`. */
// Own keys only: `toString` names no preset.
const levelOf = (p) =>
  typeof p == 'string' && Object.hasOwn(PRESET_LEVELS, p)
    ? PRESET_LEVELS[p]
    : ORDER.includes(p?.level)
      ? p.level
      : 'second_factor';

/** The Clerk-shaped body's policy (`{}` if it names none), or undefined when the body is something else. */
const clerk = (b) => {
  const e = b?.clerk_error;
  if (e?.type == 'forbidden' && e.reason == 'reverification-error') return e.metadata?.reverification ?? {};
};

const isResponse = (x) => typeof x?.clone == 'function' && typeof x.headers?.get == 'function';

/** The level a parsed body or a thrown error asks for, or undefined when it is not the error. */
function levelIn(x) {
  const p = clerk(x) ?? clerk(x?.body);
  if (p !== undefined) return levelOf(p);
  if (x?.code == 'reverification-error') return 'second_factor';
}

/**
 * The level a reverification error asks for, or undefined when `x` is not one. A Response
 * is read from a clone (its own body stays unread) and only when its status is 401 or 403.
 */
async function levelNeeded(x) {
  if (!isResponse(x)) return levelIn(x);
  if (x.status != 401 && x.status != 403) return;
  const h = x.headers.get('www-authenticate') || '';
  const challenged = h.includes('insufficient_user_authentication');
  const acr = /acr_values="?([^",]*)/
    .exec(h)?.[1]
    .split(' ')
    .find((l) => ORDER.includes(l));
  if (challenged && acr) return acr; // no need to read the body
  const p = clerk(
    await x
      .clone()
      .json()
      .catch(() => null),
  );
  if (p !== undefined) return levelOf(p);
  if (challenged) return 'second_factor';
}

/**
 * Whether `x` is the reverification error: a `Response` (status 403 or 401) with the
 * Clerk-shaped body `{"clerk_error":{"type":"forbidden","reason":"reverification-error",…}}`
 * or an RFC 9470 `WWW-Authenticate: … insufficient_user_authentication` header; a parsed
 * body of that shape; or a thrown error carrying it (a {@link ReverifyError} with code
 * `reverification-error`). For a Response the answer is a Promise (the body is read from a
 * clone, so the Response itself stays unread).
 *
 * @example
 * const res = await fetch('/api/transfer', { method: 'POST' });
 * if (await isReverificationError(res)) …
 * @param {unknown} x
 * @returns {boolean | Promise<boolean>}
 */
export function isReverificationError(x) {
  return isResponse(x) ? levelNeeded(x).then((l) => l !== undefined) : levelIn(x) !== undefined;
}

/** The shared prompt of `client` (opened by the first caller). */
function prompt(level, client, onNeeds) {
  let p = prompts.get(client);
  if (!p) {
    p = new Promise((complete, reject) => {
      const cancel = () => reject(new ReverifyError(REVERIFICATION_CANCELLED, 'The user cancelled the verification'));
      if (onNeeds) Promise.resolve(onNeeds({ level, complete: () => complete(), cancel })).catch(reject);
      else if (defaultPrompt) defaultPrompt({ level, client }).then(complete, reject);
      else
        reject(
          new ReverifyError(
            'reverification_ui_missing',
            'No verification UI: import the UI module or pass onNeedsReverification',
          ),
        );
    })
      .catch((e) => {
        throw e?.code == REVERIFICATION_CANCELLED && !(e instanceof ReverifyError)
          ? new ReverifyError(REVERIFICATION_CANCELLED, e.message, { cause: e })
          : e;
      })
      .then(() => completed.set(client, (completed.get(client) || 0) + 1))
      .finally(() => prompts.delete(client));
    prompts.set(client, p);
  }
  return p;
}

/**
 * Wraps `fetcher` so that a reverification error (returned or thrown) asks the user to
 * verify — through `onNeedsReverification` or the registered default prompt — and then
 * calls `fetcher` again, exactly once, with the same arguments. Anything else (including
 * a non-reverification `Response`, whose body stays unread) passes through untouched.
 *
 * Concurrent calls share one prompt; all retry after it completes, and all reject with a
 * {@link ReverifyError} whose code is `reverification_cancelled` if the user cancels. A
 * reverification error from the retry goes back to the caller (no loop). Completing a
 * verification through the client stores the fresh token before the retry.
 *
 * @example
 * const transfer = withReverification((amount) =>
 *   fetch('/api/transfer', { method: 'POST', body: JSON.stringify({ amount }) }));
 * const res = await transfer(100); // the verification modal opens if the server asks
 *
 * @template {(...args: any[]) => any} F
 * @param {F} fetcher
 * @param {{
 *   onNeedsReverification?: (args: {level: string, complete: () => void, cancel: () => void}) => void,
 *   client?: import('./client.js').ReverifyClient,
 *   level?: 'first_factor' | 'second_factor' | 'multi_factor',
 * }} [options] `level`: at least this level is asked for (the error's own level when it is
 *   stronger); `client` defaults to the most recently created ReverifyClient
 * @returns {(...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>>}
 */
export function withReverification(fetcher, options = {}) {
  return async function (...args) {
    const { client = defaultClient, onNeedsReverification } = options;
    const before = completed.get(client);
    let result, error, threw;
    try {
      result = await fetcher.apply(this, args);
    } catch (e) {
      error = e;
      threw = true;
    }
    let level = await levelNeeded(threw ? error : result);
    if (level === undefined) {
      if (threw) throw error;
      return result;
    }
    if (ORDER.indexOf(options.level) > ORDER.indexOf(level)) level = options.level;
    if (completed.get(client) === before) await prompt(level, client, onNeedsReverification);
    // A token refresh that was in flight may have replaced the fresh `__session` cookie:
    // getToken() waits for it (and mints again if so); otherwise it answers from the cache.
    await client?.getToken().catch(() => {});
    return fetcher.apply(this, args);
  };
}
