// What the framework adapters share: the verifier built from the adapter's options, the
// request authenticated once, and the three answers (the auth error, the reverification
// error) as plain parts each framework writes its own way. Internal: not an entry point.

import { authenticateRequest, readHeader } from './auth.js';
import { reverificationError, stepUpChallenge } from './errors.js';
import { parsePolicy } from './policy.js';
import { TokenError, createVerifier } from './verify.js';

const AUTH_OPTIONS = ['allowedOrigins', 'hostScheme', 'cookieName'];

/**
 * Splits an adapter's options into a verifier (a prebuilt `verifier`, or one created from
 * the verifier options: `issuer`, `jwks` or `jwksUrl`, `authorizedParties`, …) and the
 * options of `authenticateRequest`. Throws at once for a misconfiguration, so a bad setup
 * fails when the app starts, not on its first request.
 */
export function adapterSetup(options) {
  if (options == null || typeof options !== 'object') {
    throw new TokenError('verifier_config_invalid', 'pass the verifier options or { verifier }');
  }
  const { verifier: prebuilt, ...rest } = options;
  const auth = {};
  const verifierOptions = {};
  for (const [key, value] of Object.entries(rest)) {
    if (AUTH_OPTIONS.includes(key)) auth[key] = value;
    else verifierOptions[key] = value;
  }
  if (auth.allowedOrigins !== undefined) {
    if (!Array.isArray(auth.allowedOrigins) || !auth.allowedOrigins.every((o) => typeof o === 'string')) {
      throw new TokenError('verifier_config_invalid', 'allowedOrigins must be an array of strings');
    }
    auth.allowedOrigins = [...auth.allowedOrigins];
  }
  let verifier = prebuilt;
  if (verifier !== undefined) {
    if (verifier === null || typeof verifier.verifyToken !== 'function') {
      throw new TokenError('verifier_config_invalid', 'verifier must come from createVerifier()');
    }
    if (Object.keys(verifierOptions).length > 0) {
      throw new TokenError(
        'verifier_config_invalid',
        `pass either a verifier or its options, not both (${Object.keys(verifierOptions).join(', ')})`,
      );
    }
  } else {
    verifier = createVerifier(verifierOptions);
  }
  return {
    authenticate: (method, headers, authority) =>
      authenticateRequest(verifier, { method, headers: withHost(headers, authority) }, auth),
  };
}

/**
 * The headers, with `Host` taken from the request's authority when they have none (HTTP/2's
 * `:authority`, or a fetch runtime's URL), as the Rust SDK falls back on the URI's authority:
 * the request's own origin is then recognised instead of refused.
 */
function withHost(headers, authority) {
  if (!authority || readHeader(headers, 'host')) return headers;
  if (headers && typeof headers.get === 'function') {
    const copy = new Headers(headers);
    copy.set('host', authority);
    return copy;
  }
  return { ...headers, host: authority };
}

/** The answer to a signed-out request: status, headers and the JSON body text. */
export function authErrorParts(auth) {
  const error = auth?.error ?? new TokenError('token_missing');
  const headers = { 'content-type': 'application/json' };
  if (error.wwwAuthenticate) headers['www-authenticate'] = error.wwwAuthenticate;
  return { status: error.status, headers, body: JSON.stringify(error.body) };
}

/** The reverification answer: 403, the reference's body, the RFC 9470 challenge. */
export function reverificationParts(policy) {
  return {
    status: 403,
    headers: { 'content-type': 'application/json', 'www-authenticate': stepUpChallenge(policy) },
    body: JSON.stringify(reverificationError(policy)),
  };
}

/**
 * A policy checked once, when the route is declared (a `PolicyError` then, never at
 * request time), with its answer prepared.
 */
export function preparedPolicy(policy) {
  const parsed = parsePolicy(policy);
  return { policy: parsed, answer: reverificationParts(parsed) };
}

const ENCODER = new TextEncoder();

/** Writes parts on a Node `ServerResponse` (Express, or anything built on `node:http`). */
export function writeNode(res, { status, headers, body }) {
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('content-length', ENCODER.encode(body).length);
  res.end(body);
}

/** The parts as a Web `Response`. */
export const toResponse = ({ status, headers, body }) => new Response(body, { status, headers });
