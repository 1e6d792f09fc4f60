// A third-party app that signs its users in with Reverify over OpenID Connect, and asks for
// a fresh or a stronger verification before its sensitive actions. Node's standard library
// only (node:http, node:crypto, fetch): every step of the relying party is in this file.
//
//   ISSUER=https://auth.example.com CLIENT_ID=… CLIENT_SECRET=… node server.mjs
//
// Settings (environment): ISSUER, CLIENT_ID, CLIENT_SECRET (required); PORT (3000);
// APP_URL (http://127.0.0.1:PORT: where browsers reach this app; the redirect URI is
// APP_URL/callback); MAX_AGE (60: seconds a verification stays fresh for the sensitive
// action). See README.md.
import { createServer } from 'node:http';
import { createHash, createPublicKey, randomBytes, timingSafeEqual, verify } from 'node:crypto';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is required (see README.md)`);
  return value;
};
const ISSUER = env('ISSUER').replace(/\/$/, '');
const CLIENT_ID = env('CLIENT_ID');
const CLIENT_SECRET = env('CLIENT_SECRET');
const PORT = Number(env('PORT', '3000'));
const APP_URL = env('APP_URL', `http://127.0.0.1:${PORT}`).replace(/\/$/, '');
const MAX_AGE = Number(env('MAX_AGE', '60'));
const REDIRECT_URI = `${APP_URL}/callback`;
const PHR = 'phr'; // Reverify's ACR for a passkey with user verification
const SKEW = 30; // seconds of clock difference tolerated on exp and iat
const COOKIE = 'oidc_app_session';
const secure = APP_URL.startsWith('https:') ? '; Secure' : '';

// Discovery: the endpoints and the keys come from the issuer, not from settings.
const discovery = await (await fetch(`${ISSUER}/.well-known/openid-configuration`)).json();
if (discovery.issuer !== ISSUER) throw new Error(`the issuer says it is ${discovery.issuer}, not ${ISSUER}`);
let keys = new Map();
async function key(kid) {
  if (!keys.has(kid)) {
    const { keys: jwks } = await (await fetch(discovery.jwks_uri)).json();
    keys = new Map(jwks.filter((k) => k.kty === 'RSA').map((k) => [k.kid, createPublicKey({ key: k, format: 'jwk' })]));
  }
  const found = keys.get(kid);
  if (!found) throw new Error(`no key ${kid} in the JWKS`);
  return found;
}

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const random = () => b64url(randomBytes(32));
const now = () => Math.floor(Date.now() / 1000);

/** Checks an ID token as OpenID Connect Core 3.1.3.7 says; returns its claims. */
async function verifyIdToken(jwt, login) {
  const [h, p, s] = jwt.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  if (header.alg !== 'RS256') throw new Error(`unexpected alg ${header.alg}`);
  if (!verify('RSA-SHA256', Buffer.from(`${h}.${p}`), await key(header.kid), Buffer.from(s, 'base64url')))
    throw new Error('bad signature');
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  const aud = [].concat(claims.aud);
  const t = now();
  if (claims.iss !== ISSUER) throw new Error('wrong iss');
  if (!aud.includes(CLIENT_ID) || (aud.length > 1 && claims.azp !== CLIENT_ID)) throw new Error('wrong aud');
  if (!(claims.exp > t - SKEW) || !(claims.iat < t + SKEW)) throw new Error('expired or from the future');
  if (claims.nonce !== login.nonce) throw new Error('wrong nonce');
  if (!Number.isInteger(claims.auth_time)) throw new Error('no auth_time');
  if (login.maxAge !== undefined && claims.auth_time + login.maxAge < t - SKEW)
    throw new Error('auth_time older than max_age');
  if (login.acr && claims.acr !== login.acr) throw new Error(`acr ${claims.acr}, not ${login.acr}`);
  return claims;
}

// State kept by the app: its sessions and the sign-ins under way (in memory: an example).
const sessions = new Map(); // cookie value → { claims, idToken, csrf, log }
const logins = new Map(); // state → { verifier, nonce, maxAge, acr, action, session, expires }

/** Sends the browser to the provider; `then` runs on the session once it comes back. */
function authorize(res, { session, maxAge, acr, action }) {
  const state = random();
  const verifier = random();
  const login = { verifier, nonce: random(), maxAge, acr, action, session, expires: now() + 600 };
  logins.set(state, login);
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    state,
    nonce: login.nonce,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    ...(maxAge !== undefined && { max_age: String(maxAge) }),
    ...(acr && { acr_values: acr }),
  });
  // The state is also bound to this browser: a callback started elsewhere is refused.
  res.setHeader('set-cookie', `oidc_app_state=${state}; Path=/callback; HttpOnly; SameSite=Lax; Max-Age=600${secure}`);
  redirect(res, url.href);
}

async function callback(req, res, url) {
  const q = url.searchParams;
  const state = q.get('state') ?? '';
  const login = logins.get(state);
  const bound = cookies(req).oidc_app_state ?? '';
  logins.delete(state);
  if (
    !login ||
    login.expires < now() ||
    bound.length !== state.length ||
    !timingSafeEqual(Buffer.from(bound), Buffer.from(state))
  )
    return page(res, 400, 'Sign-in failed', '<p>Unknown or expired sign-in. <a href="/">Start again</a>.</p>');
  // RFC 9207: the answer names its issuer (a mix-up defence).
  if (q.get('iss') !== ISSUER) return page(res, 400, 'Sign-in failed', '<p>The answer is from another issuer.</p>');
  if (q.has('error'))
    return page(
      res,
      400,
      'Not verified',
      `<p>${esc(q.get('error'))}: ${esc(q.get('error_description') ?? '')}</p><p><a href="/">Home</a></p>`,
    );

  // The code for tokens, as a confidential client (client_secret_basic: RFC 6749 2.3.1
  // form-encodes the id and the secret before Base64).
  const basic = Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64');
  const r = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: q.get('code') ?? '',
      redirect_uri: REDIRECT_URI,
      code_verifier: login.verifier,
    }),
  });
  const tokens = await r.json();
  if (!r.ok) return page(res, 502, 'Sign-in failed', `<p>Token endpoint: ${esc(tokens.error)}</p>`);
  let claims;
  try {
    claims = await verifyIdToken(tokens.id_token, login);
  } catch (e) {
    return page(res, 502, 'Sign-in failed', `<p>ID token refused: ${esc(e.message)}</p>`);
  }
  let id = login.session;
  const current = id && sessions.get(id);
  if (current && current.claims.sub !== claims.sub) {
    // Someone else verified: this is a sign-in, not a step-up.
    sessions.delete(id);
    id = undefined;
  }
  if (!current || !id) {
    id = random();
    sessions.set(id, { csrf: random(), log: [] });
    res.setHeader('set-cookie', `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax${secure}`);
  }
  const session = sessions.get(id);
  Object.assign(session, { claims, idToken: tokens.id_token });
  if (login.action) login.action(session);
  redirect(res, '/');
}

// The app's sensitive actions. Each says what fresh or strong verification it needs.
const actions = {
  // Freshness: a verification within MAX_AGE seconds (any factor).
  '/actions/rotate-key': {
    need: { maxAge: MAX_AGE },
    ok: (c) => now() - c.auth_time <= MAX_AGE,
    run: (s) => s.log.unshift(`API key rotated (verified at ${time(s.claims.auth_time)})`),
  },
  // Strength: a passkey with user verification in this session.
  '/actions/delete-project': {
    need: { acr: PHR },
    ok: (c) => c.acr === PHR,
    run: (s) => s.log.unshift(`Project deleted (acr ${s.claims.acr})`),
  },
};

async function handle(req, res) {
  const url = new URL(req.url, APP_URL);
  const id = cookies(req)[COOKIE];
  const session = id && sessions.get(id);
  if (req.method === 'GET' && url.pathname === '/') return home(res, session);
  if (req.method === 'GET' && url.pathname === '/login') return authorize(res, {});
  if (req.method === 'GET' && url.pathname === '/callback') return callback(req, res, url);
  const action = actions[url.pathname];
  if (req.method === 'POST' && (action || url.pathname === '/logout')) {
    const form = new URLSearchParams(await body(req));
    if (!session || form.get('csrf') !== session.csrf)
      return page(res, 403, 'Forbidden', '<p><a href="/">Home</a></p>');
    if (url.pathname === '/logout') {
      sessions.delete(id);
      res.setHeader('set-cookie', `${COOKIE}=; Path=/; Max-Age=0${secure}`);
      return redirect(res, '/');
    }
    if (action.ok(session.claims)) {
      action.run(session);
      return redirect(res, '/');
    }
    // Not fresh or strong enough: ask the provider, then act once it answered.
    return authorize(res, { ...action.need, session: id, action: action.run });
  }
  page(res, 404, 'Not found', '<p><a href="/">Home</a></p>');
}

function home(res, session) {
  if (!session)
    return page(
      res,
      200,
      'Example app',
      '<p>You are not signed in.</p><p><a href="/login" data-action="login">Sign in with Reverify</a></p>',
    );
  const c = session.claims;
  const row = (name, value) => `<dt>${name}</dt><dd data-claim="${name}">${esc(value)}</dd>`;
  const button = (path, label) =>
    `<form method="post" action="${path}"><input type="hidden" name="csrf" value="${session.csrf}"><button>${label}</button></form>`;
  page(
    res,
    200,
    'Example app',
    `<p>Signed in as <strong data-claim="email">${esc(c.email ?? c.sub)}</strong>.</p>
<dl>${row('sub', c.sub)}${row('sid', c.sid)}${row('auth_time', c.auth_time)}<dd>${time(c.auth_time)}</dd>${row('acr', c.acr)}${row('amr', (c.amr ?? []).join(' '))}</dl>
${button('/actions/rotate-key', `Rotate the API key (verified within ${MAX_AGE} s)`)}
${button('/actions/delete-project', 'Delete the project (passkey)')}
${button('/logout', 'Sign out')}
<h2>Done</h2><ul data-log>${session.log.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>`,
  );
}

const time = (t) => new Date(t * 1000).toISOString();
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const redirect = (res, to) => res.writeHead(303, { location: to }).end();
function page(res, status, title, html) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'none'; form-action 'self' " + new URL(ISSUER).origin,
    'cache-control': 'no-store',
  });
  res.end(
    `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title><h1>${title}</h1>${html}`,
  );
}
function cookies(req) {
  return Object.fromEntries((req.headers.cookie ?? '').split(/;\s*/).map((c) => c.split('=')));
}
async function body(req) {
  let data = '';
  for await (const chunk of req) if ((data += chunk).length > 10_000) throw new Error('body too large');
  return data;
}

createServer((req, res) =>
  handle(req, res).catch((e) => {
    console.error(e);
    if (!res.headersSent) page(res, 500, 'Error', '<p>Something went wrong.</p>');
  }),
).listen(PORT, '127.0.0.1', () => console.log(`listening on ${APP_URL} (redirect URI ${REDIRECT_URI})`));
