// Reverification policies: the four presets and custom `{level, afterMinutes}` policies,
// validated exactly as the Rust SDK validates them (crates/reverify/src/policy.rs).

/** The three levels, spelled in snake_case as the reference spells them. */
export const LEVELS = Object.freeze(['first_factor', 'second_factor', 'multi_factor']);

/** The four presets: their level and freshness window in minutes. */
export const PRESETS = Object.freeze({
  strict_mfa: Object.freeze({ level: 'multi_factor', afterMinutes: 10 }),
  strict: Object.freeze({ level: 'second_factor', afterMinutes: 10 }),
  moderate: Object.freeze({ level: 'second_factor', afterMinutes: 60 }),
  lax: Object.freeze({ level: 'second_factor', afterMinutes: 1440 }),
});

const hasOwn = (object, key) => Object.prototype.hasOwnProperty.call(object, key);

/** Why a policy is invalid. `code` is `policy_invalid`, as in the Rust SDK. */
export class PolicyError extends TypeError {
  constructor(message) {
    super(message);
    this.name = 'PolicyError';
    this.code = 'policy_invalid';
  }
}

const describeValue = (value) => {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
};

/**
 * Parses a policy as it appears in the 403 metadata or in `has({ reverification })`: a preset
 * name (`'strict'`, case-sensitive, nothing around it), or an object with a snake_case
 * `level` and a finite `afterMinutes` greater than 0 (fractions allowed; other keys
 * ignored). A string is never decoded as JSON. Throws a `PolicyError` when invalid.
 *
 * Returns the normalized form, frozen: the preset name, or `{ level, afterMinutes }`.
 */
export function parsePolicy(value) {
  if (typeof value === 'string') {
    if (hasOwn(PRESETS, value)) return value;
    throw new PolicyError(
      `unknown reverification preset ${describeValue(value)} (expected strict_mfa, strict, moderate or lax)`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PolicyError(`not a reverification policy: ${describeValue(value)}`);
  }
  if (!hasOwn(value, 'level') || value.level === undefined) {
    throw new PolicyError('custom policy is missing "level"');
  }
  const { level } = value;
  if (typeof level !== 'string' || !LEVELS.includes(level)) {
    throw new PolicyError(
      `unknown level ${describeValue(level)} (expected first_factor, second_factor or multi_factor)`,
    );
  }
  if (!hasOwn(value, 'afterMinutes') || value.afterMinutes === undefined) {
    throw new PolicyError('custom policy is missing "afterMinutes"');
  }
  const { afterMinutes } = value;
  if (typeof afterMinutes !== 'number' || !Number.isFinite(afterMinutes) || !(afterMinutes > 0)) {
    throw new PolicyError(`afterMinutes must be a number greater than 0, got ${describeValue(afterMinutes)}`);
  }
  return Object.freeze({ level, afterMinutes });
}

/** Whether `value` is a valid policy (see `parsePolicy`). */
export function isValidPolicy(value) {
  try {
    parsePolicy(value);
    return true;
  } catch {
    return false;
  }
}

/** The level a (valid) policy asks for. */
export function policyLevel(policy) {
  const p = parsePolicy(policy);
  return typeof p === 'string' ? PRESETS[p].level : p.level;
}

/** The freshness window of a (valid) policy, in minutes (fractional for some custom policies). */
export function policyAfterMinutes(policy) {
  const p = parsePolicy(policy);
  return typeof p === 'string' ? PRESETS[p].afterMinutes : p.afterMinutes;
}

const U64_MAX = 18446744073709551615n;

/** The window in whole seconds, rounded down, as a BigInt (the Rust SDK's saturating u64). */
function maxAgeBig(afterMinutes) {
  const seconds = Math.floor(afterMinutes * 60);
  if (!Number.isFinite(seconds) || seconds >= 2 ** 64) return U64_MAX;
  return BigInt(seconds);
}

/**
 * The window in whole seconds, rounded down: the RFC 9470 `max_age`. A Number (beyond
 * 2^53 seconds it is not exact; the header carries the exact value).
 */
export function policyMaxAge(policy) {
  return Number(maxAgeBig(policyAfterMinutes(policy)));
}

/** The RFC 9470 `max_age` as written in the header. */
export function maxAgeText(policy) {
  return maxAgeBig(policyAfterMinutes(policy)).toString();
}

/**
 * A short human description, e.g. "a second-factor verification within the last 10
 * minutes", worded and numbered exactly as the Rust SDK's `Policy::describe`.
 */
export function describePolicy(policy) {
  const level = policyLevel(policy);
  const minutes = policyAfterMinutes(policy);
  const what = {
    first_factor: 'a first-factor verification',
    second_factor: 'a second-factor verification',
    multi_factor: 'a multi-factor verification',
  }[level];
  if (Number.isInteger(minutes)) {
    // Whole minutes in full decimal digits (never an exponent), as Rust prints them.
    const unit = minutes === 1 ? 'minute' : 'minutes';
    return `${what} within the last ${BigInt(minutes).toString()} ${unit}`;
  }
  return `${what} within the last ${maxAgeText(policy)} seconds`;
}
