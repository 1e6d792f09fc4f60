// The decision: does a session satisfy a reverification policy at `now`? Exactly the Rust
// SDK's (crates/reverify/src/decision.rs):
//
// - with `fvt` (verification times, unix seconds; Reverify tokens): ages computed now, to
//   the second, `age = max(now - t, 0)`, fresh when `afterMinutes > age / 60`;
// - with only `fva` (ages in whole minutes at mint time; Clerk-style tokens): the reference
//   algorithm, fresh when `afterMinutes > age`;
// - `-1` = no such factor; `[-1, -1]` never passes; second_factor and multi_factor fall back
//   to the first factor when there is no second one;
// - `fvt` wins when present: a malformed `fvt` fails even if `fva` would pass; a missing or
//   malformed claim, or an invalid policy, never passes.

import { isValidPolicy, policyAfterMinutes, policyLevel } from './policy.js';

const NOT_ENABLED = -1;
const I64_LIMIT = 2 ** 63;

/**
 * A validated `fva` (`integers = false`) or `fvt` (`integers = true`) claim: `undefined`
 * when absent (missing or `null`), `null` when malformed, else the pair of entries, each
 * `-1` or a number `>= 0`.
 */
function parseClaim(value, integers) {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length !== 2) return null;
  const pair = [];
  for (const entry of value) {
    if (typeof entry !== 'number') return null;
    if (integers && !(Number.isInteger(entry) && Math.abs(entry) < I64_LIMIT)) return null;
    if (entry === NOT_ENABLED || (Number.isFinite(entry) && entry >= 0)) pair.push(entry);
    else return null;
  }
  return pair;
}

/** The reference algorithm, parameterised by what "fresh" means for one entry. */
function decide([first, second], level, freshValue) {
  const fresh = (entry) => entry !== NOT_ENABLED && freshValue(entry);
  if (first === NOT_ENABLED && second === NOT_ENABLED) return false;
  if (level === 'first_factor') return fresh(first);
  if (second === NOT_ENABLED) return fresh(first);
  if (level === 'second_factor') return fresh(second);
  // multi_factor
  if (first === NOT_ENABLED) return false;
  return fresh(first) && fresh(second);
}

/** The current time in unix seconds. */
export const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Whether the session `claims` (a verified token's payload, or any object with `fva` and/or
 * `fvt`) satisfy `policy` (a preset name or `{ level, afterMinutes }`) at `now` (unix
 * seconds; default: the current time). An invalid policy or missing/malformed claims are
 * `false`, never an exception.
 */
export function has(claims, policy, now = nowSeconds()) {
  if (!isValidPolicy(policy) || claims === null || typeof claims !== 'object') return false;
  if (typeof now !== 'number' || !Number.isFinite(now)) return false;
  const level = policyLevel(policy);
  const after = policyAfterMinutes(policy);
  const fvt = parseClaim(claims.fvt, true);
  if (fvt === null) return false;
  if (fvt !== undefined) {
    return decide(fvt, level, (verifiedAt) => after > Math.max(now - verifiedAt, 0) / 60);
  }
  const fva = parseClaim(claims.fva, false);
  if (!fva) return false;
  return decide(fva, level, (ageMinutes) => after > ageMinutes);
}
