import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  PRESET_LEVELS,
  REVERIFICATION_CANCELLED,
  ReverifyClient,
  SIGNED_OUT,
  ReverifyError,
  isReverificationError,
  setDefaultPrompt,
  withReverification,
} from '../src/index.js';
import { deferred, fakeFetch, flush, json, reverificationBody, reverificationResponse, session, user } from './fake.js';

afterEach(() => setDefaultPrompt(null));

/** A client whose fake server answers nothing (these tests do not need one). */
const idleClient = () => new ReverifyClient({ fetch: fakeFetch({}) });

/** A custom UI that records each prompt and lets the test complete or cancel it. */
function recordingUi() {
  const prompts = [];
  const ui = (p) => prompts.push(p);
  ui.prompts = prompts;
  return ui;
}

test('detects the error in a Response body (403 and 401) and reads only a clone', async () => {
  for (const status of [403, 401]) {
    const res = json(status, reverificationBody('strict'));
    assert.equal(await isReverificationError(res), true);
    assert.equal(res.bodyUsed, false);
    assert.deepEqual(await res.json(), reverificationBody('strict'), 'the caller can still read it');
  }
});

test('detects the RFC 9470 header alone (no body)', async () => {
  const res = new Response(null, {
    status: 401,
    headers: {
      'www-authenticate': 'Bearer error="insufficient_user_authentication", acr_values="multi_factor", max_age=600',
    },
  });
  assert.equal(await isReverificationError(res), true);
});

test('detects a returned object and thrown errors', () => {
  assert.equal(isReverificationError(reverificationBody({ level: 'first_factor', afterMinutes: 5 })), true);
  assert.equal(
    isReverificationError(new ReverifyError('reverification-error', 'x', { status: 403, body: reverificationBody() })),
    true,
  );
  assert.equal(isReverificationError({ code: 'reverification-error' }), true);
  assert.equal(isReverificationError({ body: reverificationBody('lax') }), true);
  for (const no of [
    null,
    undefined,
    42,
    'reverification-error',
    {},
    new Error('x'),
    { clerk_error: { type: 'forbidden', reason: 'other' } },
    new ReverifyError('locked'),
  ]) {
    assert.equal(isReverificationError(no), false, String(no));
  }
});

test('a non-matching 403, a 200 and a 204 are not the error, and their bodies stay unread', async () => {
  const forbidden = json(403, { code: 'forbidden', message: 'not yours' });
  assert.equal(await isReverificationError(forbidden), false);
  assert.equal(forbidden.bodyUsed, false);
  const challenge = new Response('', {
    status: 403,
    headers: { 'www-authenticate': 'Bearer error="insufficient_scope"' },
  });
  assert.equal(await isReverificationError(challenge), false);
  const ok = json(200, reverificationBody()); // only error statuses are looked at
  assert.equal(await isReverificationError(ok), false);
  assert.equal(ok.bodyUsed, false);
});

test('withReverification returns other Responses untouched, bodies unread (204 included)', async () => {
  const ui = recordingUi();
  for (const res of [
    new Response(null, { status: 204 }),
    json(200, { ok: true }),
    json(403, { code: 'forbidden' }),
    json(500, { code: 'internal_error' }),
  ]) {
    const out = await withReverification(async () => res, { onNeedsReverification: ui, client: idleClient() })();
    assert.equal(out, res, 'the very same object');
    assert.equal(out.bodyUsed, false);
  }
  assert.equal(ui.prompts.length, 0);
});

test('other thrown errors are rethrown as they are', async () => {
  const boom = new TypeError('boom');
  const wrapped = withReverification(
    async () => {
      throw boom;
    },
    { onNeedsReverification: recordingUi(), client: idleClient() },
  );
  await assert.rejects(wrapped(), (e) => e === boom);
});

test('retries exactly once, with the same arguments and this, after completion', async () => {
  const calls = [];
  const ui = recordingUi();
  const fetcher = async function (...args) {
    calls.push({ args, self: this });
    return calls.length === 1 ? reverificationResponse('strict') : json(200, { done: args[0].amount });
  };
  const payload = { amount: 100 };
  const self = { name: 'owner' };
  const wrapped = withReverification(fetcher, { onNeedsReverification: ui, client: idleClient() });
  const pending = wrapped.call(self, payload, 'second');
  await flush();
  assert.equal(ui.prompts.length, 1);
  assert.equal(ui.prompts[0].level, 'second_factor');
  assert.equal(calls.length, 1, 'no retry before completion');
  ui.prompts[0].complete();
  const res = await pending;
  assert.deepEqual(await res.json(), { done: 100 });
  assert.equal(calls.length, 2);
  assert.equal(calls[1].args[0], payload);
  assert.deepEqual(calls[1].args, [payload, 'second']);
  assert.equal(calls[1].self, self);
});

test('a second reverification error on the retry goes back to the caller (no loop)', async () => {
  let prompts = 0;
  const ui = (p) => (++prompts > 3 ? p.cancel() : p.complete()); // a loop ends in a cancel, not a hang
  let n = 0;
  const returned = await withReverification(async () => (n++, reverificationResponse()), {
    onNeedsReverification: ui,
    client: idleClient(),
  })();
  assert.equal(n, 2);
  assert.equal(prompts, 1);
  assert.equal(returned.status, 403);
  assert.equal(returned.bodyUsed, false);

  let m = 0;
  const err = new ReverifyError('reverification-error', 'again', { status: 403, body: reverificationBody() });
  const wrapped = withReverification(
    async () => {
      m++;
      throw err;
    },
    { onNeedsReverification: ui, client: idleClient() },
  );
  await assert.rejects(wrapped(), (e) => e === err);
  assert.equal(m, 2);
  assert.equal(prompts, 2);
});

test('the level comes from the metadata (presets and custom) or the header, default second_factor', async () => {
  const cases = [
    [reverificationBody('strict_mfa'), 'multi_factor'],
    [reverificationBody('strict'), 'second_factor'],
    [reverificationBody('moderate'), 'second_factor'],
    [reverificationBody('lax'), 'second_factor'],
    [reverificationBody({ level: 'first_factor', afterMinutes: 5 }), 'first_factor'],
    [reverificationBody({ level: 'multi_factor', afterMinutes: 1 }), 'multi_factor'],
    [reverificationBody({ level: 'firstFactor', afterMinutes: 5 }), 'second_factor'],
    [reverificationBody(null), 'second_factor'],
    [{ code: 'reverification-error' }, 'second_factor'],
    [() => json(403, reverificationBody('strict_mfa')), 'multi_factor'],
    [
      () =>
        new Response(null, {
          status: 403,
          headers: { 'www-authenticate': 'Bearer error="insufficient_user_authentication", acr_values="first_factor"' },
        }),
      'first_factor',
    ],
    [
      () =>
        new Response(null, {
          status: 401,
          headers: { 'www-authenticate': 'Bearer error="insufficient_user_authentication", max_age=60' },
        }),
      'second_factor',
    ],
  ];
  for (const [answer, level] of cases) {
    const ui = recordingUi();
    let first = true;
    const fetcher = async () => (first ? ((first = false), typeof answer == 'function' ? answer() : answer) : 'ok');
    const pending = withReverification(fetcher, { onNeedsReverification: ui, client: idleClient() })();
    await flush();
    assert.equal(ui.prompts[0]?.level, level, JSON.stringify(answer));
    ui.prompts[0].complete();
    assert.equal(await pending, 'ok');
  }
});

test('the level option asks for at least that level', async () => {
  for (const [policy, option, level] of [
    ['strict', 'multi_factor', 'multi_factor'],
    ['strict_mfa', 'first_factor', 'multi_factor'],
    ['strict', 'first_factor', 'second_factor'],
  ]) {
    const ui = recordingUi();
    let first = true;
    const pending = withReverification(async () => (first ? ((first = false), reverificationBody(policy)) : 'ok'), {
      onNeedsReverification: ui,
      level: option,
      client: idleClient(),
    })();
    await flush();
    assert.equal(ui.prompts[0].level, level, `${policy} + ${option}`);
    ui.prompts[0].complete();
    await pending;
  }
});

/** Three different wrapped calls that each need verification once. */
function threeCalls(ui, client) {
  const counts = [0, 0, 0];
  const wrapped = counts.map((_, i) =>
    withReverification(async (x) => (++counts[i] === 1 ? reverificationResponse() : `done ${x}`), {
      onNeedsReverification: ui,
      client,
    }),
  );
  return { counts, pending: wrapped.map((w, i) => w(i)) };
}

test('concurrent calls share one prompt and all retry after it completes', async () => {
  const ui = recordingUi();
  const { counts, pending } = threeCalls(ui, idleClient());
  await flush();
  assert.equal(ui.prompts.length, 1, 'one prompt for three calls');
  ui.prompts[0].complete();
  assert.deepEqual(await Promise.all(pending), ['done 0', 'done 1', 'done 2']);
  assert.deepEqual(counts, [2, 2, 2]);
});

test('concurrent calls all reject with reverification_cancelled on cancel, without retrying', async () => {
  const ui = recordingUi();
  const { counts, pending } = threeCalls(ui, idleClient());
  await flush();
  assert.equal(ui.prompts.length, 1);
  ui.prompts[0].cancel();
  const results = await Promise.allSettled(pending);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(r.reason instanceof ReverifyError);
    assert.equal(r.reason.code, REVERIFICATION_CANCELLED);
  }
  assert.deepEqual(counts, [1, 1, 1]);
  // The next need opens a new prompt.
  const again = withReverification(async () => reverificationBody(), {
    onNeedsReverification: ui,
    client: idleClient(),
  })();
  await flush();
  assert.equal(ui.prompts.length, 2);
  ui.prompts[1].cancel();
  await assert.rejects(again, { code: REVERIFICATION_CANCELLED });
});

test('a call that started before a verification completed retries without asking again', async () => {
  const ui = recordingUi();
  const client = idleClient();
  const lateAnswer = deferred();
  let lateCalls = 0;
  // Sent before the verification; its 403 arrives after the prompt completed.
  const late = withReverification(async () => (++lateCalls === 1 ? lateAnswer.promise : 'late ok'), {
    onNeedsReverification: ui,
    client,
  })();
  const early = withReverification(async () => reverificationBody(), { onNeedsReverification: ui, client })();
  await flush();
  ui.prompts[0].complete();
  await early;
  lateAnswer.resolve(reverificationResponse());
  await flush();
  assert.equal(ui.prompts.length, 1, 'no second prompt');
  assert.equal(await late, 'late ok');
});

test('without onNeedsReverification the registered default prompt opens with the level and client', async () => {
  const client = idleClient();
  const seen = [];
  setDefaultPrompt(async (args) => {
    seen.push(args);
  });
  let n = 0;
  const out = await withReverification(async () => (n++ ? 'ok' : reverificationBody('strict_mfa')), { client })();
  assert.equal(out, 'ok');
  assert.equal(seen.length, 1);
  assert.equal(seen[0].level, 'multi_factor');
  assert.equal(seen[0].client, client);

  // A default prompt that rejects with any error carrying the code: a ReverifyError all the same.
  setDefaultPrompt(() => Promise.reject({ code: REVERIFICATION_CANCELLED }));
  const err = await withReverification(async () => reverificationBody(), { client })().catch((e) => e);
  assert.ok(err instanceof ReverifyError);
  assert.equal(err.code, REVERIFICATION_CANCELLED);

  setDefaultPrompt(null);
  await assert.rejects(withReverification(async () => reverificationBody(), { client })(), {
    code: 'reverification_ui_missing',
  });
});

test('the retry carries the fresh token from the verification answer, with no extra token request', async () => {
  const TOKENS = 'POST /v1/sessions/current/tokens';
  const f = fakeFetch({
    'POST /v1/sign_ins': () => ({ status: 'complete', user, session, token: 'before' }),
    [TOKENS]: () => ({ jwt: 'should-not-be-needed', expires_in: 60 }),
    'POST /v1/sessions/current/verifications': (b) => ({ id: 'ver_1', status: 'needs_second_factor', level: b.level }),
    'POST /v1/sessions/current/verifications/ver_1/attempt': () => ({
      verification: { id: 'ver_1', status: 'complete' },
      session,
      reverification: {},
      token: 'after',
      jwt: 'after',
      expires_in: 60,
    }),
    // The app's own API: demands a token minted after a verification.
    'POST /api/transfer': (_, call) =>
      call.init.headers.authorization === 'Bearer after' ? json(200, { ok: true }) : reverificationResponse('strict'),
  });
  const client = new ReverifyClient({ fetch: f });
  await client.signInWithPassword('a@example.com', 'pw');
  const transfer = withReverification(
    async (amount) =>
      f('/api/transfer', {
        method: 'POST',
        headers: { authorization: `Bearer ${await client.getToken()}` },
        body: JSON.stringify({ amount }),
      }),
    {
      client,
      // A custom UI that drives the verification flow through the client.
      onNeedsReverification: async ({ level, complete }) => {
        const v = await client.startVerification(level);
        await client.attemptVerification(v.id, { strategy: 'totp', code: '123456' });
        complete();
      },
    },
  );
  const res = await transfer(5);
  assert.equal(res.status, 200);
  assert.deepEqual(
    f.calls.filter((c) => c.key === 'POST /api/transfer').map((c) => c.init.headers.authorization),
    ['Bearer before', 'Bearer after'],
  );
  assert.equal(await client.getToken(), 'after');
  assert.equal(f.count(TOKENS), 0, 'no token request at all');
});

test('a ReverifyError thrown by a client call is handled like a Response', async () => {
  let sensitive = true;
  const f = fakeFetch({
    'POST /v1/me/backup_codes': () => (sensitive ? json(403, reverificationBody('strict')) : { backup_codes: ['a'] }),
  });
  const client = new ReverifyClient({ fetch: f });
  const regenerate = withReverification(() => client.regenerateBackupCodes(), {
    client,
    onNeedsReverification: ({ complete }) => {
      sensitive = false;
      complete();
    },
  });
  assert.deepEqual(await regenerate(), { backup_codes: ['a'] });
  assert.equal(f.count('POST /v1/me/backup_codes'), 2);
});

test("a token refresh in flight at the verification lands before it: the retry carries the completion's cookie", async () => {
  // The fake server keeps the `__session` cookie as a browser would: each answer that sets
  // it replaces it when that answer arrives. Only the completion's token carries the
  // approval; a refresh never does, so neither a stale answer nor a new mint may replace it.
  let cookie = 'before';
  const firstRefresh = deferred();
  let mints = 0;
  const f = fakeFetch({
    'POST /v1/sign_ins': () => ({ status: 'complete', user, session, token: 'before' }),
    'POST /v1/sessions/current/tokens': async () => {
      mints++;
      await firstRefresh.promise; // minted before the verification
      cookie = 'stale';
      return { jwt: 'stale', expires_in: 60 };
    },
    'POST /v1/sessions/current/verifications/ver_1/attempt': () => {
      cookie = 'approved';
      return { verification: { status: 'complete' }, session, token: 'approved', jwt: 'approved', expires_in: 60 };
    },
    'POST /api/transfer': () => (cookie === 'approved' ? json(200, { cookie }) : reverificationResponse()),
  });
  const client = new ReverifyClient({ fetch: f });
  await client.signInWithPassword('a@example.com', 'pw');
  const refreshing = client.getToken({ force: true });
  const transfer = withReverification(() => f('/api/transfer', { method: 'POST' }), {
    client,
    onNeedsReverification: async ({ complete }) => {
      const attempt = client.attemptVerification('ver_1', { strategy: 'password', password: 'pw' });
      await flush();
      assert.equal(f.count('POST /v1/sessions/current/verifications/ver_1/attempt'), 0, 'waits for the refresh');
      firstRefresh.resolve();
      await attempt;
      complete();
    },
  });
  const res = await transfer();
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { cookie: 'approved' });
  assert.equal(await refreshing, 'stale');
  assert.equal(await client.getToken(), 'approved');
  assert.equal(mints, 1, 'no new mint after the completion');
});

test('a session that ends during the prompt: every waiting call rejects with signed_out, not cancelled', async () => {
  // A custom UI whose verification start finds the session gone (its promise rejects).
  const ended = new ReverifyError(SIGNED_OUT, 'signed out', { status: 401 });
  const prompts = [];
  const ui = (p) => (prompts.push(p), Promise.reject(ended));
  const { counts, pending } = threeCalls(ui, idleClient());
  const results = await Promise.allSettled(pending);
  assert.equal(prompts.length, 1);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.equal(r.reason, ended);
    assert.equal(r.reason.code, SIGNED_OUT);
  }
  assert.deepEqual(counts, [1, 1, 1], 'no retry');

  // The default prompt (the modal) rejecting with it: the same.
  setDefaultPrompt(() => Promise.reject(ended));
  const client = idleClient();
  const both = await Promise.allSettled([
    withReverification(async () => reverificationBody(), { client })(),
    withReverification(async () => reverificationResponse(), { client })(),
  ]);
  assert.deepEqual(
    both.map((r) => r.reason?.code),
    [SIGNED_OUT, SIGNED_OUT],
  );
});

test('the level of a policy named like an Object property is the default, not a function', async () => {
  for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    const ui = recordingUi();
    let first = true;
    const fetcher = async () => (first ? ((first = false), reverificationBody(name)) : 'ok');
    const pending = withReverification(fetcher, { onNeedsReverification: ui, client: idleClient() })();
    await flush();
    assert.equal(ui.prompts[0]?.level, 'second_factor', name);
    ui.prompts[0].complete();
    assert.equal(await pending, 'ok');
  }
  assert.equal(Object.keys(PRESET_LEVELS).length, 4);
});
