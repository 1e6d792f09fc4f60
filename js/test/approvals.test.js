// Approvals (docs/approvals.md, "The browser side") and the idempotency key of withReverification.
import { test, afterEach, mock } from 'node:test';
import assert from 'node:assert/strict';
import {
  REVERIFICATION_CANCELLED,
  ReverifyClient,
  ReverifyError,
  isReverificationError,
  setDefaultPrompt,
  withReverification,
} from '../src/index.js';
import {
  action,
  approvalBody,
  approvalResponse,
  deferred,
  fakeFetch,
  flush,
  json,
  reverificationBody,
  reverificationResponse,
} from './fake.js';

afterEach(() => setDefaultPrompt(null));

const idleClient = () => new ReverifyClient({ fetch: fakeFetch({}) });

/** A custom UI that records each prompt and lets the test complete or cancel it. */
function recordingUi() {
  const prompts = [];
  const ui = (p) => prompts.push(p);
  ui.prompts = prompts;
  return ui;
}

/** Lets several rounds of promise callbacks and I/O run. */
const settle = async (n = 5) => {
  for (let i = 0; i < n; i++) await flush();
};

/** A fetcher that answers `first` once, then `'ok <n>'`; counts its calls. */
function once(first) {
  const f = async () => (++f.n === 1 ? (typeof first == 'function' ? first() : first) : `ok ${f.n}`);
  f.n = 0;
  return f;
}

test('the action is found in a Response (even when the header names the level), a body and a thrown error', async () => {
  const act = action();
  const thrown = () => {
    throw new ReverifyError('reverification-error', 'x', { status: 403, body: approvalBody(act) });
  };
  for (const first of [() => approvalResponse(act), approvalBody(act), thrown, () => json(401, approvalBody(act))]) {
    const ui = recordingUi();
    const pending = withReverification(once(first), { onNeedsReverification: ui, client: idleClient() })();
    await settle();
    assert.equal(ui.prompts.length, 1);
    assert.deepEqual(ui.prompts[0].action, act, String(first));
    assert.equal(ui.prompts[0].level, 'second_factor');
    ui.prompts[0].complete();
    assert.equal(await pending, 'ok 2');
  }
  const res = approvalResponse(act);
  assert.equal(await isReverificationError(res), true);
  assert.equal(res.bodyUsed, false, 'read from a clone');
  assert.deepEqual(await res.json(), approvalBody(act));
});

test('the returned Response with an action stays unread when the retry answers the same error', async () => {
  const ui = (p) => p.complete();
  let n = 0;
  const res = await withReverification(async () => (n++, approvalResponse()), {
    onNeedsReverification: ui,
    client: idleClient(),
  })();
  assert.equal(n, 2, 'retried once, no loop');
  assert.equal(res.status, 403);
  assert.equal(res.bodyUsed, false);
});

test('a malformed action is ignored: the error is still a reverification error, without an action', async () => {
  for (const bad of [
    { type: 7, summary: 'x' },
    { type: 'transfer' },
    { summary: 'Send €25.00 to Bob' },
    'transfer',
    null,
    [1],
  ]) {
    const ui = recordingUi();
    const pending = withReverification(once(approvalBody(bad)), { onNeedsReverification: ui, client: idleClient() })();
    await settle();
    assert.equal(ui.prompts.length, 1, JSON.stringify(bad));
    assert.equal(ui.prompts[0].action, undefined, JSON.stringify(bad));
    ui.prompts[0].complete();
    await pending;
  }
  // No action at all: the key is there, undefined.
  const ui = recordingUi();
  const pending = withReverification(once(reverificationBody()), { onNeedsReverification: ui, client: idleClient() })();
  await settle();
  assert.ok('action' in ui.prompts[0]);
  assert.equal(ui.prompts[0].action, undefined);
  ui.prompts[0].complete();
  await pending;
});

test('the default prompt gets {level, action, client}', async () => {
  const client = idleClient();
  const seen = [];
  setDefaultPrompt(async (args) => {
    seen.push(args);
  });
  const act = action('Delete the project “Apollo”', 'project.delete');
  assert.equal(await withReverification(once(approvalBody(act)), { client })(), 'ok 2');
  assert.deepEqual(seen, [{ level: 'second_factor', action: act, client }]);
});

test('two concurrent calls needing different actions get two prompts, one after the other; each retries once', async () => {
  const ui = recordingUi();
  const client = idleClient();
  const a = once(approvalBody(action('Send €25.00 to Bob')));
  const b = once(approvalBody(action('Send €900.00 to Eve')));
  const pa = withReverification(a, { onNeedsReverification: ui, client })();
  const pb = withReverification(b, { onNeedsReverification: ui, client })();
  await settle();
  assert.equal(ui.prompts.length, 1, 'one prompt at a time');
  assert.equal(ui.prompts[0].action.summary, 'Send €25.00 to Bob');
  ui.prompts[0].complete();
  assert.equal(await pa, 'ok 2');
  await settle();
  assert.equal(b.n, 1, 'the other call did not ride on the first approval');
  assert.equal(ui.prompts.length, 2);
  assert.equal(ui.prompts[1].action.summary, 'Send €900.00 to Eve');
  ui.prompts[1].complete();
  assert.equal(await pb, 'ok 2');
  assert.deepEqual([a.n, b.n], [2, 2]);
});

test('two concurrent calls needing the same action do not share a prompt either (an approval is single-use)', async () => {
  const ui = recordingUi();
  const client = idleClient();
  const a = once(approvalBody());
  const b = once(approvalBody());
  const both = [a, b].map((f) => withReverification(f, { onNeedsReverification: ui, client })());
  await settle();
  ui.prompts[0].complete();
  await settle();
  assert.equal(ui.prompts.length, 2);
  ui.prompts[1].complete();
  assert.deepEqual(await Promise.all(both), ['ok 2', 'ok 2']);
});

test('cancelling one action prompt rejects only its call; the next queued prompt opens', async () => {
  const ui = recordingUi();
  const client = idleClient();
  const a = once(approvalBody(action('A')));
  const b = once(approvalBody(action('B')));
  const pa = withReverification(a, { onNeedsReverification: ui, client })();
  const pb = withReverification(b, { onNeedsReverification: ui, client })();
  await settle();
  ui.prompts[0].cancel();
  await assert.rejects(pa, (e) => e instanceof ReverifyError && e.code === REVERIFICATION_CANCELLED);
  await settle();
  assert.equal(ui.prompts.length, 2);
  assert.equal(ui.prompts[1].action.summary, 'B');
  ui.prompts[1].complete();
  assert.equal(await pb, 'ok 2');
  assert.deepEqual([a.n, b.n], [1, 2]);
});

test('a call that started before a verification completed still asks when it needs an approval', async () => {
  const ui = recordingUi();
  const client = idleClient();
  const lateAnswer = deferred();
  let lateCalls = 0;
  const late = withReverification(async () => (++lateCalls === 1 ? lateAnswer.promise : 'late ok'), {
    onNeedsReverification: ui,
    client,
  })();
  const early = withReverification(once(reverificationBody()), { onNeedsReverification: ui, client })();
  await settle();
  ui.prompts[0].complete();
  await early;
  lateAnswer.resolve(approvalResponse());
  await settle();
  assert.equal(ui.prompts.length, 2, 'a completion never stands in for an approval');
  assert.equal(lateCalls, 1);
  ui.prompts[1].complete();
  assert.equal(await late, 'late ok');
});

test('a prompt without an action queued behind an approval resolves without asking once it completes', async () => {
  const ui = recordingUi();
  const client = idleClient();
  const a = once(approvalBody());
  const plain = once(reverificationBody());
  const pa = withReverification(a, { onNeedsReverification: ui, client })();
  await settle();
  const pp = withReverification(plain, { onNeedsReverification: ui, client })();
  await settle();
  assert.equal(ui.prompts.length, 1);
  ui.prompts[0].complete();
  assert.deepEqual(await Promise.all([pa, pp]), ['ok 2', 'ok 2']);
  assert.equal(ui.prompts.length, 1, 'the verification for the action also made the session fresh');
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('idempotencyKey: the fetcher gets the key first; the same on the retry, a new one per call', async () => {
  const seen = [];
  let need = true;
  const pay = withReverification(
    async function (key, amount, note) {
      seen.push({ key, amount, note, self: this });
      if (need) return ((need = false), approvalResponse());
      return json(200, { key });
    },
    { idempotencyKey: true, onNeedsReverification: ({ complete }) => complete(), client: idleClient() },
  );
  const self = { me: 1 };
  const res = await pay.call(self, 2500, 'rent');
  assert.equal(res.status, 200);
  assert.equal(seen.length, 2);
  assert.match(seen[0].key, UUID);
  assert.equal(seen[1].key, seen[0].key, 'the retry carries the same key');
  assert.deepEqual(
    seen.map((s) => [s.amount, s.note, s.self]),
    [
      [2500, 'rent', self],
      [2500, 'rent', self],
    ],
  );
  await pay(100);
  assert.equal(seen.length, 3);
  assert.match(seen[2].key, UUID);
  assert.notEqual(seen[2].key, seen[0].key, 'a new logical call, a new key');
});

test('idempotencyKey: a network failure (TypeError) is sent again with the same key, up to 3 times, then thrown', async () => {
  const keys = [];
  const times = [];
  const fail = new TypeError('Failed to fetch');
  const send = withReverification(
    async (key) => {
      keys.push(key);
      times.push(Date.now());
      throw fail;
    },
    { idempotencyKey: true, onNeedsReverification: recordingUi(), client: idleClient() },
  );
  await assert.rejects(send(), (e) => e === fail);
  assert.equal(keys.length, 4, 'the first try and 3 retries');
  assert.equal(new Set(keys).size, 1);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  for (const [gap, want] of gaps.map((g, i) => [g, [250, 500, 1000][i]]))
    assert.ok(gap >= want - 5 && gap < want + 200, `waited ${gap} ms, want ${want}`);

  // A failure that recovers: the answer comes back.
  let n = 0;
  const flaky = withReverification(
    async (key) => {
      if (++n < 3) throw new TypeError('Failed to fetch');
      return key;
    },
    { idempotencyKey: true, client: idleClient() },
  );
  assert.match(await flaky(), UUID);
  assert.equal(n, 3);
});

test('idempotencyKey: a 409 idempotency_request_in_flight is sent again after Retry-After; other 409s are not', async () => {
  const keys = [];
  const busy = () =>
    json(409, { code: 'idempotency_request_in_flight', message: 'running' }, { 'retry-after': '0.05' });
  const send = withReverification(async (key) => (keys.push(key), keys.length < 3 ? busy() : json(200, { ok: 1 })), {
    idempotencyKey: true,
    client: idleClient(),
  });
  const t0 = Date.now();
  const res = await send();
  assert.equal(res.status, 200);
  assert.ok(Date.now() - t0 >= 95, 'waited Retry-After twice');
  assert.equal(keys.length, 3);
  assert.equal(new Set(keys).size, 1);

  // Still in flight after 3 retries: the 409 goes back to the caller, unread.
  let m = 0;
  const stuck = await withReverification(async () => (m++, busy()), { idempotencyKey: true, client: idleClient() })();
  assert.equal(m, 4);
  assert.equal(stuck.status, 409);
  assert.equal(stuck.bodyUsed, false);

  // Another 409 (a key reused with another body) is the caller's.
  let k = 0;
  const mismatch = json(409, { code: 'idempotency_key_reused', message: 'other body' });
  const out = await withReverification(async () => (k++, mismatch), { idempotencyKey: true, client: idleClient() })();
  assert.equal(out, mismatch);
  assert.equal(k, 1);
  assert.equal(out.bodyUsed, false);
});

test('idempotencyKey: Retry-After is capped at 5 s', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let n = 0;
    const send = withReverification(
      async () =>
        ++n === 1
          ? json(409, { code: 'idempotency_request_in_flight' }, { 'retry-after': '3600' })
          : json(200, { ok: 1 }),
      { idempotencyKey: true, client: idleClient() },
    );
    const pending = send();
    await settle();
    mock.timers.tick(4999);
    await settle();
    assert.equal(n, 1, 'still waiting');
    mock.timers.tick(1);
    await settle();
    assert.equal(n, 2);
    assert.equal((await pending).status, 200);
  } finally {
    mock.timers.reset();
  }
});

test('idempotencyKey: the retry after the approval is itself retried on a network failure, with the same key', async () => {
  const keys = [];
  const send = withReverification(
    async (key) => {
      keys.push(key);
      if (keys.length === 1) return approvalResponse();
      if (keys.length === 2) throw new TypeError('Failed to fetch');
      return json(200, { ok: 1 });
    },
    { idempotencyKey: true, onNeedsReverification: ({ complete }) => complete(), client: idleClient() },
  );
  assert.equal((await send()).status, 200);
  assert.equal(keys.length, 3);
  assert.equal(new Set(keys).size, 1);
});

test('without idempotencyKey nothing is retried and the fetcher gets its own arguments only', async () => {
  let n = 0;
  const fail = new TypeError('Failed to fetch');
  await assert.rejects(
    withReverification(
      async (...args) => {
        n++;
        assert.deepEqual(args, [1, 2]);
        throw fail;
      },
      { client: idleClient() },
    )(1, 2),
    (e) => e === fail,
  );
  assert.equal(n, 1);
  let m = 0;
  const busy = json(409, { code: 'idempotency_request_in_flight' }, { 'retry-after': '0' });
  assert.equal(await withReverification(async () => (m++, busy), { client: idleClient() })(), busy);
  assert.equal(m, 1);
  assert.equal(busy.bodyUsed, false);
});

test('a verification flow driven through the client sends the action and retries with the approval token', async () => {
  const act = action();
  const f = fakeFetch({
    'POST /v1/sessions/current/verifications': (b) => ({ id: 'ver_1', status: 'needs_second_factor', ...b }),
    'POST /v1/sessions/current/verifications/ver_1/attempt': () => ({
      verification: { id: 'ver_1', status: 'complete' },
      session: { id: 'ses_1' },
      token: 'with-approval',
      jwt: 'with-approval',
      expires_in: 60,
      approval: { id: 'apr_1', digest: act.digest, expires_at: 9e9 },
    }),
    'POST /v1/sessions/current/tokens': () => ({ jwt: 'without-approval', expires_in: 60 }),
    'POST /api/transfer': (_, call) =>
      call.init.headers.authorization === 'Bearer with-approval'
        ? json(200, { ok: true })
        : json(403, approvalBody(act)),
  });
  const client = new ReverifyClient({ fetch: f });
  const transfer = withReverification(
    async (key) =>
      f('/api/transfer', {
        method: 'POST',
        headers: { authorization: `Bearer ${await client.getToken()}`, 'idempotency-key': key },
      }),
    {
      client,
      idempotencyKey: true,
      onNeedsReverification: async ({ level, action, complete }) => {
        const v = await client.startVerification(level, action);
        await client.attemptVerification(v.id, { strategy: 'totp', code: '123456' });
        complete();
      },
    },
  );
  assert.equal((await transfer()).status, 200);
  assert.deepEqual(f.calls.find((c) => c.key === 'POST /v1/sessions/current/verifications').body, {
    level: 'second_factor',
    action: act,
  });
  const sent = f.calls.filter((c) => c.key === 'POST /api/transfer').map((c) => c.init.headers);
  assert.equal(sent.length, 2);
  assert.equal(sent[1].authorization, 'Bearer with-approval');
  assert.equal(sent[0]['idempotency-key'], sent[1]['idempotency-key']);
});
