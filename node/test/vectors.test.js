// The shared vectors (vectors/reverification.json), the same file the Rust SDK's tests
// assert: policy parsing, the 403 answer and every decision.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import {
  has,
  isValidPolicy,
  parsePolicy,
  policyAfterMinutes,
  policyLevel,
  policyMaxAge,
  reverificationError,
  reverificationErrorResponse,
  stepUpChallenge,
} from '../src/index.js';

const vectors = JSON.parse(readFileSync(new URL('../../vectors/reverification.json', import.meta.url), 'utf8'));

test('the vectors file holds enough cases of each kind', () => {
  assert.ok(vectors.policies.length >= 30);
  assert.ok(vectors.decisions.length >= 60);
  for (const valid of [true, false]) assert.ok(vectors.policies.filter((c) => c.valid === valid).length >= 15);
  for (const expected of [true, false]) assert.ok(vectors.decisions.filter((c) => c.has === expected).length >= 20);
});

for (const c of vectors.policies) {
  test(`policy: ${c.name}`, async () => {
    assert.equal(isValidPolicy(c.input), c.valid);
    if (!c.valid) {
      assert.throws(() => parsePolicy(c.input), { name: 'PolicyError', code: 'policy_invalid' });
      assert.throws(() => reverificationError(c.input), { name: 'PolicyError' });
      assert.equal(has({ fva: [0, 0], fvt: [0, 0] }, c.input, 0), false, 'an invalid policy never passes');
      return;
    }
    const normalized = parsePolicy(c.input);
    assert.deepEqual(normalized, c.normalized);
    assert.deepEqual(parsePolicy(normalized), normalized);
    assert.equal(policyLevel(c.input), c.level);
    assert.equal(policyAfterMinutes(c.input), c.afterMinutes);
    assert.equal(policyMaxAge(c.input), c.maxAge);
    assert.equal(stepUpChallenge(c.input), c.wwwAuthenticate);
    assert.equal(JSON.stringify(reverificationError(c.input)), c.body);
    const response = reverificationErrorResponse(c.input);
    assert.equal(response.status, 403);
    assert.equal(response.headers.get('www-authenticate'), c.wwwAuthenticate);
    assert.equal(await response.text(), c.body);
  });
}

test('decisions', () => {
  for (const c of vectors.decisions) {
    assert.equal(
      has(c.claims, c.policy, c.now),
      c.has,
      `${c.name}: claims ${JSON.stringify(c.claims)} policy ${JSON.stringify(c.policy)} now ${c.now}`,
    );
  }
});
