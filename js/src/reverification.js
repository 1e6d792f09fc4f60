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

/** @type {((args: {level: string, action?: object, client: any}) => Promise<void>) | null} */
let defaultPrompt = null;
/** The open prompt without an action of each client: concurrent calls share it. */
const prompts = new Map();
/** The last prompt of each client (settled or not): the next one opens after it, one at a time. */
const queues = new Map();
/** How many prompts of each client completed: a call that started before the last one
 * completed retries without asking again (its request predates the verification). */
const completed = new Map();

/**
 * Registers the prompt `withReverification` opens when the caller gave no
 * `onNeedsReverification` (the UI module registers its modal when imported). The prompt
 * gets `{level, action, client}` (`action`: the action to approve, or undefined), resolves
 * once the session is verified and rejects (with code `reverification_cancelled`) when the
 * user gives up.
 * @param {((args: {level: string, action?: object, client: any}) => Promise<void>) | null} fn
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

/** What a Clerk-shaped body asks for, `{level, action}`, or undefined when it is something else.
 * `action` (to approve) only when it has a string `type` and `summary`. */
const clerk = (b) => {
  const e = b?.clerk_error;
  if (e?.type == 'forbidden' && e.reason == 'reverification-error') {
    const { reverification, action: a } = e.metadata || {};
    return {
      level: levelOf(reverification),
      action: typeof a?.type == 'string' && typeof a.summary == 'string' ? a : undefined,
    };
  }
};

const isResponse = (x) => typeof x?.clone == 'function' && typeof x.headers?.get == 'function';

/** A Response's JSON body, read from a clone (null when it is not JSON or already read). */
const peek = async (r) => {
  try {
    return await r.clone().json();
  } catch {
    return null;
  }
};

/** `{level, action}` for a parsed body or a thrown error; falsy when it is not the error. */
const neededIn = (x) => clerk(x) ?? clerk(x?.body) ?? (x?.code == 'reverification-error' && {});

/**
 * `{level, action}` for a reverification error; falsy when `x` is not one. A
 * Response is read from a clone (its own body stays unread) and only when its status is
 * 401 or 403; the header's `acr_values` names the level, the body the action.
 */
async function needed(x) {
  if (!isResponse(x)) return neededIn(x);
  if (x.status != 401 && x.status != 403) return;
  const h = x.headers.get('www-authenticate') || '';
  const challenged = h.includes('insufficient_user_authentication');
  const acr = /acr_values="?([^",]*)/
    .exec(h)?.[1]
    .split(' ')
    .find((l) => ORDER.includes(l));
  const n = clerk(await peek(x)) ?? (challenged && {});
  if (n && challenged && acr) n.level = acr;
  return n;
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
  return isResponse(x) ? needed(x).then((n) => !!n) : !!neededIn(x);
}

/**
 * The prompt of `client` for `level` (and `action`). Without an action, concurrent calls
 * share one prompt; with one, every call gets its own (an approval is single-use). Prompts
 * of one client open one at a time, in turn; a prompt without an action whose turn comes
 * after another one completed resolves without asking.
 */
function prompt(level, action, client, onNeeds) {
  let p = !action && prompts.get(client);
  if (p) return p;
  const at = completed.get(client);
  const open = () =>
    (!action && completed.get(client) !== at) ||
    new Promise((complete, reject) => {
      const cancel = () => reject(new ReverifyError(REVERIFICATION_CANCELLED, 'The user cancelled the verification'));
      if (onNeeds) Promise.resolve(onNeeds({ level, action, complete: () => complete(), cancel })).catch(reject);
      else if (defaultPrompt) defaultPrompt({ level, action, client }).then(complete, reject);
      else
        reject(
          new ReverifyError(
            'reverification_ui_missing',
            'No verification UI: import the UI module or pass onNeedsReverification',
          ),
        );
    });
  p = Promise.resolve(queues.get(client))
    .then(open)
    .catch((e) => {
      throw e?.code == REVERIFICATION_CANCELLED && !(e instanceof ReverifyError)
        ? new ReverifyError(REVERIFICATION_CANCELLED, e.message, { cause: e })
        : e;
    })
    .then(() => completed.set(client, (completed.get(client) || 0) + 1));
  queues.set(
    client,
    p.catch(() => {}),
  );
  if (!action) {
    p = p.finally(() => prompts.delete(client));
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
 * Approvals: when the error names an action (`clerk_error.metadata.action`, `{type,
 * summary, fields, digest}`), the prompt gets it (`action`; the modal shows "Approve:
 * <summary>" and starts the verification for it). Such a prompt is never shared: every
 * call gets its own, one after the other, and always asks (an approval is single-use).
 *
 * `idempotencyKey: true`: `fetcher` gets a key as its first argument, `(key, ...args)` (a
 * UUID, one per call of the wrapper, the same on every retry: send it as the
 * `Idempotency-Key` header), and a network failure (a thrown `TypeError`) or a 409
 * `idempotency_request_in_flight` is sent again, with the same key, up to 3 times
 * (waiting `Retry-After`, at most 5 s, else 0.25 s, 0.5 s, 1 s).
 *
 * @example
 * const transfer = withReverification((amount) =>
 *   fetch('/api/transfer', { method: 'POST', body: JSON.stringify({ amount }) }));
 * const res = await transfer(100); // the verification modal opens if the server asks
 * const pay = withReverification((key, amount) =>
 *   fetch('/api/pay', { method: 'POST', headers: { 'idempotency-key': key }, body: JSON.stringify({ amount }) }),
 *   { idempotencyKey: true });
 * await pay(100);
 *
 * @template {(...args: any[]) => any} F
 * @param {F} fetcher
 * @param {{
 *   onNeedsReverification?: (args: {level: string, action?: object, complete: () => void, cancel: () => void}) => void,
 *   client?: import('./client.js').ReverifyClient,
 *   level?: 'first_factor' | 'second_factor' | 'multi_factor',
 *   idempotencyKey?: boolean,
 * }} [options] `level`: at least this level is asked for (the error's own level when it is
 *   stronger); `client` defaults to the most recently created ReverifyClient
 * @returns {(...args: any[]) => Promise<Awaited<ReturnType<F>>>}
 */
export function withReverification(fetcher, options = {}) {
  return async function (...args) {
    const { client = defaultClient, onNeedsReverification, idempotencyKey } = options;
    if (idempotencyKey) args.unshift(crypto.randomUUID());
    /**
     * Calls `fetcher`: [threw, its result or error]. With a key, a network failure (a thrown
     * `TypeError`) or a 409 `idempotency_request_in_flight` is sent again up to 3 times, after
     * `Retry-After` (seconds, at most 5) or 250 ms, 500 ms, 1 s.
     */
    const call = async () => {
      for (let i = 0; ; i++) {
        let r, threw;
        try {
          r = await fetcher.apply(this, args);
        } catch (e) {
          r = e;
          threw = true;
        }
        if (
          !idempotencyKey ||
          i > 2 ||
          !(threw
            ? r instanceof TypeError
            : r?.status == 409 && (await peek(r))?.code == 'idempotency_request_in_flight')
        )
          return [threw, r];
        // No (or no usable) Retry-After: 250 ms, 500 ms, 1 s.
        await new Promise((f) => setTimeout(f, Math.min(r.headers?.get('retry-after'), 5) * 1000 || 250 << i));
      }
    };
    const before = completed.get(client);
    let [threw, r] = await call();
    const n = await needed(r);
    if (n) {
      let level = n.level || 'second_factor';
      if (ORDER.indexOf(options.level) > ORDER.indexOf(level)) level = options.level;
      // An approval is single-use and per action: an earlier completion never stands in for it.
      if (n.action || completed.get(client) === before) await prompt(level, n.action, client, onNeedsReverification);
      // A token refresh that was in flight may have replaced the fresh `__session` cookie:
      // getToken() waits for it (and mints again if so); otherwise it answers from the cache.
      await client?.getToken().catch(() => {});
      [threw, r] = await call();
    }
    if (threw) throw r;
    return r;
  };
}
