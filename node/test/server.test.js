// Unit tests beyond the shared vectors: JavaScript-only inputs, the shapes of the body and
// the Response, and the public exports.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as server from '../src/index.js';
import {
  PolicyError,
  describePolicy,
  has,
  isValidPolicy,
  parsePolicy,
  policyMaxAge,
  reverificationError,
  reverificationErrorResponse,
  stepUpChallenge,
} from '../src/index.js';

const NOW = 1_800_000_000;

test('values JSON cannot carry are invalid policies', () => {
  for (const afterMinutes of [NaN, Infinity, -Infinity, 10n, undefined, () => 10, new Number(10)]) {
    assert.equal(isValidPolicy({ level: 'second_factor', afterMinutes }), false, String(afterMinutes));
  }
  for (const value of [undefined, Symbol('strict'), () => 'strict', new String('strict'), 10n, new Date(0)]) {
    assert.equal(isValidPolicy(value), false, String(typeof value));
  }
  assert.equal(isValidPolicy({ level: undefined, afterMinutes: 10 }), false);
  // Inherited properties are not the policy's.
  const inherited = Object.create({ level: 'first_factor', afterMinutes: 5 });
  assert.equal(isValidPolicy(inherited), false);
  assert.equal(isValidPolicy('toString'), false);
  assert.equal(isValidPolicy('__proto__'), false);
});

test('parsePolicy returns a frozen normalized copy and names the problem', () => {
  const input = { level: 'first_factor', afterMinutes: 5, extra: true };
  const parsed = parsePolicy(input);
  assert.deepEqual(parsed, { level: 'first_factor', afterMinutes: 5 });
  assert.ok(Object.isFrozen(parsed));
  assert.notEqual(parsed, input);
  assert.equal(parsePolicy('strict'), 'strict');
  assert.throws(() => parsePolicy('Strict'), PolicyError);
  assert.throws(() => parsePolicy('Strict'), /unknown reverification preset "Strict"/);
  assert.throws(() => parsePolicy({ level: 'firstFactor', afterMinutes: 5 }), /unknown level "firstFactor"/);
  assert.throws(
    () => parsePolicy({ level: 'first_factor', afterMinutes: 0 }),
    /afterMinutes must be a number greater than 0, got 0/,
  );
  assert.throws(() => parsePolicy({ afterMinutes: 5 }), /missing "level"/);
  assert.throws(() => parsePolicy({ level: 'first_factor' }), /missing "afterMinutes"/);
  assert.throws(() => parsePolicy(null), /not a reverification policy: null/);
  assert.ok(new PolicyError('x') instanceof TypeError);
});

test('has: the announcement’s strict check, and its defaults', () => {
  const claims = { fvt: [NOW - 20 * 60, NOW - 3 * 60] };
  assert.equal(has(claims, 'strict', NOW), true);
  assert.equal(has(claims, 'strict', NOW + 7 * 60), false);
  assert.equal(has(claims, 'strict_mfa', NOW), false);
  // Default `now`: the current time.
  const fresh = Math.floor(Date.now() / 1000);
  assert.equal(has({ fvt: [fresh, fresh] }, 'strict'), true);
  assert.equal(has({ fvt: [fresh - 601, fresh - 601] }, 'strict'), false);
});

test('has never throws, and fails closed', () => {
  for (const claims of [null, undefined, 'fva', 42, []]) assert.equal(has(claims, 'lax', NOW), false);
  for (const policy of [undefined, null, 'Strict', { level: 'second_factor', afterMinutes: NaN }]) {
    assert.equal(has({ fva: [0, 0] }, policy, NOW), false);
  }
  for (const now of [NaN, Infinity, '1800000000', null]) {
    assert.equal(has({ fvt: [NOW, NOW] }, 'lax', now), false, String(now));
  }
  // Values JSON cannot carry, in the claims.
  for (const entry of [NaN, Infinity, 10n, '0']) {
    assert.equal(has({ fva: [entry, 0] }, 'lax', NOW), false, String(entry));
    assert.equal(has({ fvt: [entry, NOW] }, 'lax', NOW), false, String(entry));
  }
  // An fvt beyond the i64 range is malformed, as in the Rust SDK.
  assert.equal(has({ fvt: [2 ** 63, 2 ** 63] }, 'lax', NOW), false);
});

test('reverificationError: the reference’s body, keys in its order', () => {
  assert.deepEqual(reverificationError('strict'), {
    clerk_error: { type: 'forbidden', reason: 'reverification-error', metadata: { reverification: 'strict' } },
  });
  const custom = reverificationError({ afterMinutes: 5, level: 'first_factor', x: 1 });
  assert.equal(
    JSON.stringify(custom),
    '{"clerk_error":{"type":"forbidden","reason":"reverification-error","metadata":{"reverification":{"level":"first_factor","afterMinutes":5}}}}',
  );
  // A fresh object each time: callers may add to it.
  assert.notEqual(reverificationError('lax'), reverificationError('lax'));
  assert.throws(() => reverificationError('none'), PolicyError);
});

test('reverificationErrorResponse: 403, JSON, the RFC 9470 challenge', async () => {
  const response = reverificationErrorResponse('strict');
  assert.ok(response instanceof Response);
  assert.equal(response.status, 403);
  assert.equal(response.headers.get('content-type'), 'application/json');
  assert.equal(
    response.headers.get('www-authenticate'),
    'Bearer error="insufficient_user_authentication", error_description="A second-factor verification within the last 10 minutes is required", max_age=600, acr_values="second_factor"',
  );
  assert.deepEqual(await response.json(), reverificationError('strict'));
  assert.throws(() => reverificationErrorResponse({ level: 'second_factor', afterMinutes: -1 }), PolicyError);
});

test('descriptions and max_age at the extremes, as Rust writes them', () => {
  assert.equal(
    describePolicy({ level: 'first_factor', afterMinutes: 1 }),
    'a first-factor verification within the last 1 minute',
  );
  // Whole minutes in full digits, never an exponent.
  assert.equal(
    describePolicy({ level: 'first_factor', afterMinutes: 1e21 }),
    'a first-factor verification within the last 1000000000000000000000 minutes',
  );
  // max_age saturates at u64::MAX, as the Rust SDK's conversion does.
  assert.match(stepUpChallenge({ level: 'first_factor', afterMinutes: 1e300 }), /, max_age=18446744073709551615,/);
  assert.equal(policyMaxAge({ level: 'first_factor', afterMinutes: 0.001 }), 0);
  assert.equal(
    describePolicy({ level: 'multi_factor', afterMinutes: 0.75 }),
    'a multi-factor verification within the last 45 seconds',
  );
});

test('the package exports exactly its API', () => {
  assert.deepEqual(Object.keys(server).sort(), [
    'CROSS_SITE_REQUEST',
    'CrossSiteRequestError',
    'INSUFFICIENT_USER_AUTHENTICATION',
    'LEVELS',
    'PRESETS',
    'PolicyError',
    'REVERIFICATION_ERROR_CODE',
    'SESSION_COOKIE',
    'TokenError',
    'authErrorResponse',
    'authObject',
    'authenticateRequest',
    'createVerifier',
    'describePolicy',
    'fromAllowedOrigin',
    'has',
    'isValidPolicy',
    'normalizeOrigin',
    'nowSeconds',
    'parsePolicy',
    'policyAfterMinutes',
    'policyLevel',
    'policyMaxAge',
    'reverificationError',
    'reverificationErrorResponse',
    'stepUpChallenge',
    'tokenFromHeaders',
  ]);
});
