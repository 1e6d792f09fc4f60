// Test helpers: a fake auth server behind an injected fetch, and canned answers.

/** A JSON Response. */
export const json = (status, body, headers = {}) =>
  new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });

/** The reverification error exactly as the server sends it. */
export const reverificationBody = (policy = 'strict') => ({
  clerk_error: { type: 'forbidden', reason: 'reverification-error', metadata: { reverification: policy } },
});
/** An action to approve, as the server describes it in the error's metadata. */
export const action = (summary = 'Send €25.00 to Bob', type = 'transfer') => ({
  type,
  summary,
  fields: { amount_cents: '2500', currency: 'EUR', payee: 'Bob' },
  digest: 'dig_' + summary.length,
});
/** The reverification error asking to approve `act` (the server's 403 body). */
export const approvalBody = (act = action(), policy = { level: 'second_factor', afterMinutes: 10 }) => {
  const b = reverificationBody(policy);
  b.clerk_error.metadata.action = act;
  return b;
};
/** The same as a Response, with the RFC 9470 header naming the level (as the server sends it). */
export const approvalResponse = (act = action(), status = 403) =>
  json(status, approvalBody(act), {
    'www-authenticate':
      'Bearer error="insufficient_user_authentication", error_description="x", max_age=0, acr_values="second_factor"',
  });
export const reverificationResponse = (policy = 'strict', status = 403) =>
  json(status, reverificationBody(policy), {
    'www-authenticate': `Bearer error="insufficient_user_authentication", error_description="x", max_age=600`,
  });

const b64url = (s) => Buffer.from(s).toString('base64url');
/** An unsigned JWT-shaped token with these claims (the client only reads iat/exp). */
export const jwt = (claims) => `${b64url('{"alg":"EdDSA"}')}.${b64url(JSON.stringify(claims))}.sig`;

/**
 * A fetch that answers from `routes` (`"METHOD /path"` → handler(body, call) returning a
 * Response, a plain object for a 200 JSON answer, or a promise of either). Records calls.
 */
export function fakeFetch(routes) {
  const calls = [];
  const f = async (url, init = {}) => {
    const u = new URL(url, 'http://app.test');
    const key = `${init.method || 'GET'} ${u.pathname}`;
    const call = { key, url, init, body: init.body ? JSON.parse(init.body) : undefined };
    calls.push(call);
    const h = routes[key];
    if (!h) return json(404, { code: 'not_found', message: key });
    const r = await h(call.body, call);
    return r instanceof Response ? r : json(200, r);
  };
  f.calls = calls;
  f.count = (key) => calls.filter((c) => c.key === key).length;
  return f;
}

/** A promise with its resolve function outside. */
export function deferred() {
  let resolve, reject;
  const promise = new Promise((a, b) => ((resolve = a), (reject = b)));
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks run. */
export const flush = () => new Promise((r) => setImmediate(r));

export const user = { id: 'usr_1', email: 'a@example.com', created_at: 1, has_password: true };
export const session = {
  id: 'ses_1',
  user_id: 'usr_1',
  status: 'active',
  created_at: 1,
  last_active_at: 1,
  expires_at: 9e9,
};
