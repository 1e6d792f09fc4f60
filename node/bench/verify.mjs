#!/usr/bin/env node
// Benchmark of @reverify/server's token verification against its floor and against the
// reference's Node SDK, in one run on one machine (issue 12's speed targets):
//
//   (a) the floor: bare WebCrypto Ed25519 verification of N distinct tokens' signing
//       inputs (pre-split; the key imported once);
//   (b) createVerifier (static JWKS, default options: the token cache on) verifyToken +
//       has(claims, 'strict') on the same N distinct EdDSA tokens;
//   (c) (b) on one repeated token (answered from the token cache);
//   (d) the reference's Node SDK, @clerk/backend: authenticateRequest(Request with
//       `Authorization: Bearer`, {jwtKey}) then toAuth().has({reverification: 'strict'}),
//       networkless (a PEM public key), on N distinct RS256 tokens with its version-2
//       session claims, minted here with that key;
//   (e) (d) on one repeated token;
//   (f) for scale, createVerifier verifyToken + has(claims, 'strict') on the same RS256
//       tokens as (d) (its `fva` claim decides), with their public key as a JWK.
//
// Targets: (b) ≤ 1.2 × (a); (c) ≤ 5 µs; (d) / (b) ≥ 3; (e) / (c) ≥ 100.
//
// Each operation is awaited before the next (one request at a time). (a) and (b) alternate
// token by token over the same fresh tokens, so that a drift of the machine's speed hits
// both; their figures are means over all rounds (medians per operation shown beside). The
// others are the median over the rounds of each round's mean.
//
// Usage: node node/bench/verify.mjs [N] [ROUNDS]   (defaults: 2000 tokens, 7 rounds)

import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import os from 'node:os';

import { createClerkClient } from '@clerk/backend';

import { createVerifier, has } from '../src/index.js';

const N = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 7);
const REPEATS = 200_000;
const ISSUER = 'https://auth.example.test';
const ORIGIN = 'https://app.example.test';
const subtle = globalThis.crypto.subtle;
const b64json = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

// --- Reverify: EdDSA session tokens as a Reverify server mints them ----------------------

const ed = generateKeyPairSync('ed25519');
const edKid = 'key_bench';
const jwks = { keys: [{ ...ed.publicKey.export({ format: 'jwk' }), kid: edKid, use: 'sig', alg: 'EdDSA' }] };
const edHeader = b64json({ alg: 'EdDSA', kid: edKid, typ: 'JWT' });

function mintEdDSA(i) {
  const now = nowSeconds();
  const claims = {
    iss: ISSUER,
    sub: `user_${i}`,
    sid: `sess_${i}`,
    iat: now,
    nbf: now,
    exp: now + 600,
    jti: randomUUID(),
    azp: ORIGIN,
    fva: [0, 0],
    fvt: [now - 30, now - 30],
    auth_time: now - 30,
    amr: ['pwd', 'otp'],
  };
  const input = `${edHeader}.${b64json(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), ed.privateKey).toString('base64url')}`;
}

/** The pre-split token: what a bare signature check needs. */
function split(token) {
  const dot = token.lastIndexOf('.');
  return {
    data: new TextEncoder().encode(token.slice(0, dot)),
    signature: new Uint8Array(Buffer.from(token.slice(dot + 1), 'base64url')),
  };
}

const edKey = await subtle.importKey('jwk', { ...jwks.keys[0], ext: true }, { name: 'Ed25519' }, false, ['verify']);

async function floor(pieces) {
  const start = process.hrtime.bigint();
  for (const { data, signature } of pieces) {
    if (!(await subtle.verify('Ed25519', edKey, signature, data))) throw new Error('bad signature');
  }
  return Number(process.hrtime.bigint() - start) / 1e3 / pieces.length;
}

async function reverify(verifier, tokens) {
  let fresh = 0;
  const start = process.hrtime.bigint();
  for (const token of tokens) {
    const claims = await verifier.verifyToken(token);
    if (has(claims, 'strict')) fresh++;
  }
  const perOp = Number(process.hrtime.bigint() - start) / 1e3 / tokens.length;
  assert.equal(fresh, tokens.length, 'every fresh token passes strict');
  return perOp;
}

const newVerifier = () => createVerifier({ issuer: ISSUER, jwks, authorizedParties: [ORIGIN] });

// --- The reference: RS256 tokens with its version-2 session claims ----------------------

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
const rsHeader = b64json({ alg: 'RS256', kid: 'ins_bench', typ: 'JWT' });
// A publishable key names the instance's Frontend API host; nothing is fetched from it.
const publishableKey = `pk_test_${Buffer.from('clerk.example.test$').toString('base64')}`;
const clerk = createClerkClient({
  publishableKey,
  secretKey: 'sk_test_networkless',
  jwtKey: pem,
  telemetry: { disabled: true },
});

/** A session token with the reference's version-2 claims; `fva` ages in minutes. */
function mintClerk(i, fva = [0, 0]) {
  const now = nowSeconds();
  const claims = {
    azp: ORIGIN,
    exp: now + 600,
    fva,
    iat: now,
    iss: 'https://clerk.example.test',
    jti: randomUUID(),
    nbf: now - 10,
    sid: `sess_${i}`,
    sts: 'active',
    sub: `user_${i}`,
    v: 2,
  };
  const input = `${rsHeader}.${b64json(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), rsa.privateKey).toString('base64url')}`;
}

const rsaVerifier = () =>
  createVerifier({
    issuer: 'https://clerk.example.test',
    jwks: { keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'ins_bench', use: 'sig', alg: 'RS256' }] },
    authorizedParties: [ORIGIN],
  });

async function clerkAuth(token) {
  const request = new Request(`${ORIGIN}/api/transfer`, { headers: { authorization: `Bearer ${token}` } });
  const state = await clerk.authenticateRequest(request, { jwtKey: pem, authorizedParties: [ORIGIN] });
  return state;
}

async function reference(tokens) {
  let fresh = 0;
  const start = process.hrtime.bigint();
  for (const token of tokens) {
    const state = await clerkAuth(token);
    if (state.isAuthenticated && state.toAuth().has({ reverification: 'strict' })) fresh++;
  }
  const perOp = Number(process.hrtime.bigint() - start) / 1e3 / tokens.length;
  assert.equal(fresh, tokens.length, 'the reference signs in every token and finds it fresh');
  return perOp;
}

// The reference really verifies and really decides: a signed-in state for a good token,
// `has` true when fresh and false when stale, a forged signature refused.
{
  const state = await clerkAuth(mintClerk(0));
  assert.equal(state.status, 'signed-in', `${state.reason} ${state.message}`);
  assert.equal(state.toAuth().userId, 'user_0');
  assert.equal(state.toAuth().has({ reverification: 'strict' }), true);
  const stale = await clerkAuth(mintClerk(0, [20, 20]));
  assert.equal(stale.status, 'signed-in');
  assert.equal(stale.toAuth().has({ reverification: 'strict' }), false);
  const good = mintClerk(0);
  const forged = `${good.slice(0, good.lastIndexOf('.'))}.${mintClerk(1).split('.')[2]}`;
  assert.equal((await clerkAuth(forged)).status, 'signed-out');
  // And Reverify's verifier as well.
  const claims = await newVerifier().verifyToken(mintEdDSA(0));
  assert.equal(has(claims, 'strict'), true);
}

// --- Runs ---------------------------------------------------------------------------------

const median = (values) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

// Warm-up (JIT, the thread pool, key imports), not counted.
{
  const tokens = Array.from({ length: 500 }, (_, i) => mintEdDSA(i));
  await floor(tokens.map(split));
  await reverify(newVerifier(), tokens);
  const clerkTokens = Array.from({ length: 200 }, (_, i) => mintClerk(i));
  await reference(clerkTokens);
  await reverify(rsaVerifier(), clerkTokens);
}

// (a) and (b) interleaved token by token (which one goes first alternates), so that a
// drift of the machine's speed (other work on a shared VM) hits both alike. Each operation
// is timed on its own: means and medians per operation.
const a = [];
const b = [];
const aOps = [];
const bOps = [];
const elapsed = (start) => Number(process.hrtime.bigint() - start) / 1e3;
for (let round = 0; round < ROUNDS; round++) {
  const tokens = Array.from({ length: N }, (_, i) => mintEdDSA(round * N + i));
  const pieces = tokens.map(split);
  const verifier = newVerifier(); // an empty token cache: every token is a miss (and an insert)
  let floorTime = 0;
  let fullTime = 0;
  for (let i = 0; i < N; i++) {
    for (const which of i % 2 === 0 ? ['a', 'b'] : ['b', 'a']) {
      const start = process.hrtime.bigint();
      if (which === 'a') {
        const { data, signature } = pieces[i];
        if (!(await subtle.verify('Ed25519', edKey, signature, data))) throw new Error('bad signature');
        const us = elapsed(start);
        floorTime += us;
        aOps.push(us);
      } else {
        const claims = await verifier.verifyToken(tokens[i]);
        if (!has(claims, 'strict')) throw new Error('a fresh token failed strict');
        const us = elapsed(start);
        fullTime += us;
        bOps.push(us);
      }
    }
  }
  a.push(floorTime / N);
  b.push(fullTime / N);
}

const repeated = mintEdDSA(7);
const cachedVerifier = newVerifier();
await reverify(cachedVerifier, [repeated]);
const c = [];
for (let round = 0; round < ROUNDS; round++) c.push(await reverify(cachedVerifier, Array(REPEATS).fill(repeated)));

const d = [];
const e = [];
const f = [];
const repeatedClerk = mintClerk(7);
for (let round = 0; round < ROUNDS; round++) {
  const tokens = Array.from({ length: Math.min(N, 1000) }, (_, i) => mintClerk(round * N + i));
  d.push(await reference(tokens));
  f.push(await reverify(rsaVerifier(), tokens));
  e.push(await reference(Array(Math.min(N, 1000)).fill(repeatedClerk)));
}

// --- Report -------------------------------------------------------------------------------

const fmt = (us) => (us < 10 ? us.toFixed(2) : us.toFixed(1));
const mean = (values) => values.reduce((x, y) => x + y, 0) / values.length;
const meanA = mean(aOps);
const meanB = mean(bOps);
const ratio = meanB / meanA;
const medianRatio = median(bOps) / median(aOps);
const rows = [
  ['(a) bare WebCrypto Ed25519 verify (floor)', meanA, `median ${fmt(median(aOps))} µs`],
  [
    '(b) verifyToken + has(strict), distinct EdDSA tokens',
    meanB,
    `${ratio.toFixed(3)}× (a); median ${fmt(median(bOps))} µs, ${medianRatio.toFixed(3)}×`,
  ],
  ['(c) verifyToken + has(strict), repeated token', median(c), ''],
  ['(d) @clerk/backend authenticateRequest + has, distinct RS256', median(d), `${(median(d) / meanB).toFixed(1)}× (b)`],
  [
    '(e) @clerk/backend authenticateRequest + has, repeated token',
    median(e),
    `${(median(e) / median(c)).toFixed(0)}× (c)`,
  ],
  [
    '(f) verifyToken + has(strict), the RS256 tokens of (d)',
    median(f),
    `(d) = ${(median(d) / median(f)).toFixed(1)}× (f)`,
  ],
];
const cpu = os.cpus();
console.log(
  `@reverify/server verification benchmark — Node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}`,
);
console.log(`N = ${N} distinct tokens per round, ${ROUNDS} rounds, ${REPEATS} repeats\n`);
const width = Math.max(...rows.map((r) => r[0].length));
console.log(`${'benchmark'.padEnd(width)} | µs/op   | ratio`);
console.log(`${'-'.repeat(width)}-|---------|------------`);
for (const [name, us, note] of rows) console.log(`${name.padEnd(width)} | ${fmt(us).padStart(7)} | ${note}`);

const targets = [
  ['(b) ≤ 1.2 × (a)', ratio <= 1.2, `${ratio.toFixed(3)}×`],
  ['(c) ≤ 5 µs', median(c) <= 5, `${fmt(median(c))} µs`],
  ['(d) / (b) ≥ 3', median(d) / meanB >= 3, `${(median(d) / meanB).toFixed(1)}×`],
  ['(e) / (c) ≥ 100', median(e) / median(c) >= 100, `${(median(e) / median(c)).toFixed(0)}×`],
];
console.log('\ntargets (issue 12):');
for (const [name, ok, value] of targets) console.log(`  ${ok ? 'met   ' : 'MISSED'} ${name}: ${value}`);
console.log(`\n(b)/(a) of each round's means: ${b.map((x, i) => (x / a[i]).toFixed(3)).join(' ')}`);
if (targets.some(([, ok]) => !ok)) process.exitCode = 1;
