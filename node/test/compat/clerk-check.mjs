// Holds tokens minted by a running Reverify server (sessions.token_format = "clerk_v2") to
// the reference's own Node SDK, the real `@clerk/backend` package, and to this package.
//
// Run by the Rust integration test crates/reverify-server/tests/it/clerk_compat.rs, which
// writes on stdin:
//   { pem, jwks, issuer, apiUrl, authorizedParties, policies: { name: policy },
//     cases: [{ name, token, expected: { name: boolean } }], tampered }
// For every case it checks, networkless except for `apiUrl` (the Reverify server under
// test, on 127.0.0.1):
//   1. @clerk/backend verifyToken with the PEM public key (jwtKey) accepts the token;
//   2. createClerkClient({ jwtKey }).authenticateRequest(Bearer token) is signed in, and
//      toAuth().has({ reverification }) is the expected decision for every policy;
//   3. the same with the keys fetched from Reverify's `/v1/jwks` (apiUrl), as the
//      reference's SDK does from its own API (no PEM: rotations are followed);
//   4. this package's createVerifier + has agree.
// and that a tampered token is refused by both SDKs, and that a token in the `__session`
// cookie alone does not sign in with the reference's SDK (its cookie protocol is not
// emulated). Prints one line per case; exits 1 on
// the first disagreement.

import { createClerkClient, verifyToken } from '@clerk/backend';
import { createVerifier, has } from '../../src/index.js';

const input = JSON.parse(await readStdin());
// A syntactically valid publishable key (the SDK requires one); it names no real instance
// and nothing is fetched from it.
const publishableKey = `pk_live_${Buffer.from('clerk.reverify.example$').toString('base64')}`;
const common = {
  publishableKey,
  secretKey: 'sk_live_reverify_compat_unused',
  telemetry: { disabled: true },
};
const withPem = createClerkClient({ ...common, jwtKey: input.pem });
const withJwks = createClerkClient({ ...common, apiUrl: input.apiUrl });
const ours = createVerifier({ issuer: input.issuer, jwks: input.jwks });

let failures = 0;
const fail = (message) => {
  failures += 1;
  console.error(`MISMATCH ${message}`);
};

const request = (token) =>
  new Request('http://localhost/api/transfer', {
    headers: { authorization: `Bearer ${token}` },
  });

for (const { name, token, expected } of input.cases) {
  const failuresBefore = failures;
  let payload;
  try {
    payload = await verifyToken(token, {
      jwtKey: input.pem,
      authorizedParties: input.authorizedParties,
    });
  } catch (e) {
    fail(`${name}: @clerk/backend verifyToken refused the token: ${e.reason ?? ''} ${e.message}`);
    continue;
  }
  if (payload.v !== 2 || payload.sts !== 'active' || !Array.isArray(payload.fva)) {
    fail(`${name}: claims ${JSON.stringify(payload)}`);
  }
  const claims = await ours.verifyToken(token);
  for (const [label, client] of [
    ['jwtKey', withPem],
    ['JWKS', withJwks],
  ]) {
    const state = await client.authenticateRequest(request(token), {
      authorizedParties: input.authorizedParties,
    });
    if (!state.isAuthenticated) {
      fail(`${name} (${label}): signed out: ${state.reason} ${state.message}`);
      continue;
    }
    const auth = state.toAuth();
    if (auth.userId !== payload.sub || auth.sessionId !== payload.sid) {
      fail(`${name} (${label}): userId ${auth.userId}, sessionId ${auth.sessionId}`);
    }
    for (const [policyName, want] of Object.entries(expected)) {
      const policy = input.policies[policyName];
      const theirs = auth.has({ reverification: policy });
      if (theirs !== want) {
        fail(`${name} (${label}): @clerk/backend has(${policyName}) = ${theirs}, want ${want}`);
      }
    }
  }
  for (const [policyName, want] of Object.entries(expected)) {
    const mine = has(claims, input.policies[policyName]);
    if (mine !== want) fail(`${name}: @reverify/server has(${policyName}) = ${mine}, want ${want}`);
  }
  if (failures > failuresBefore) continue;
  console.log(
    `ok ${name}: fva ${JSON.stringify(payload.fva)} ${Object.entries(expected)
      .map(([p, v]) => `${p}=${v ? 'yes' : 'no'}`)
      .join(' ')}`,
  );
}

// The checks above can fail: a token whose payload was changed is refused by both SDKs.
try {
  await verifyToken(input.tampered, { jwtKey: input.pem });
  fail('@clerk/backend accepted a tampered token');
} catch (e) {
  if (e.reason !== 'token-invalid-signature') fail(`tampered token: unexpected ${e.reason}`);
}
const tamperedState = await withPem.authenticateRequest(request(input.tampered));
if (tamperedState.isAuthenticated) fail('@clerk/backend authenticated a tampered token');
if (
  !(await ours.verifyToken(input.tampered).then(
    () => false,
    () => true,
  ))
) {
  fail('@reverify/server accepted a tampered token');
}
console.log('ok tampered token refused');

// What is not emulated (docs/migrating.md): the reference's cookie protocol. A request with
// only the `__session` cookie (no `__client_uat`) is not signed in by its SDK; tokens go in
// `Authorization: Bearer`.
const cookieOnly = await withPem.authenticateRequest(
  new Request('http://localhost/api/transfer', {
    headers: { cookie: `__session=${input.cases[0].token}` },
  }),
  { authorizedParties: input.authorizedParties },
);
if (cookieOnly.isAuthenticated) {
  fail('a __session cookie alone now signs in: update docs/migrating.md');
}
console.log(`ok cookie-only request not signed in (${cookieOnly.status}: ${cookieOnly.reason})`);

if (failures > 0) {
  console.error(`${failures} disagreement(s)`);
  process.exit(1);
}
console.log(`all ${input.cases.length} cases agree`);

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}
