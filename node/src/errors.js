// The reverification error: the reference's 403 body, and the RFC 9470 step-up challenge,
// exactly as the Rust SDK builds them (crates/reverify/src/reverification.rs, challenge.rs).

import { describePolicy, maxAgeText, parsePolicy, policyLevel } from './policy.js';

/** The stable machine code of the reverification error. */
export const REVERIFICATION_ERROR_CODE = 'reverification-error';

/** The RFC 9470 error code. */
export const INSUFFICIENT_USER_AUTHENTICATION = 'insufficient_user_authentication';

/**
 * The reference's body for `policy`:
 * `{clerk_error: {type: 'forbidden', reason: 'reverification-error', metadata: {reverification}}}`,
 * where `reverification` is the preset name or `{ level, afterMinutes }`. Throws a
 * `PolicyError` for an invalid policy: an error must name a policy a client can satisfy.
 */
export function reverificationError(policy) {
  const normalized = parsePolicy(policy);
  const reverification =
    typeof normalized === 'string' ? normalized : { level: normalized.level, afterMinutes: normalized.afterMinutes };
  return {
    clerk_error: {
      type: 'forbidden',
      reason: REVERIFICATION_ERROR_CODE,
      metadata: { reverification },
    },
  };
}

/** Escapes a quoted-string body; control characters (not allowed in headers) become spaces. */
function quote(text) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/["\\]/g, (c) => `\\${c}`).replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

/**
 * The RFC 9470 `WWW-Authenticate` challenge for `policy`, e.g.
 * `Bearer error="insufficient_user_authentication", error_description="A second-factor verification within the last 10 minutes is required", max_age=600, acr_values="second_factor"`.
 */
export function stepUpChallenge(policy) {
  const description = describePolicy(policy);
  const capitalized = `${description[0].toUpperCase()}${description.slice(1)} is required`;
  return (
    `Bearer error="${INSUFFICIENT_USER_AUTHENTICATION}"` +
    `, error_description="${quote(capitalized)}"` +
    `, max_age=${maxAgeText(policy)}` +
    `, acr_values="${quote(policyLevel(policy))}"`
  );
}

/**
 * The reverification answer as a Web `Response`: 403, the reference's JSON body,
 * `Content-Type: application/json` and the RFC 9470 `WWW-Authenticate` challenge.
 * Throws a `PolicyError` for an invalid policy.
 */
export function reverificationErrorResponse(policy) {
  const body = JSON.stringify(reverificationError(policy));
  return new Response(body, {
    status: 403,
    headers: {
      'Content-Type': 'application/json',
      'WWW-Authenticate': stepUpChallenge(policy),
    },
  });
}
