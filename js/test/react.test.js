// useReverification rendered with real React (react-dom/client) in a happy-dom document.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Window } from 'happy-dom';
import { json, reverificationResponse } from './fake.js';

const window = new Window({ url: 'http://app.test/' });
globalThis.window = window;
globalThis.document = window.document;
globalThis.navigator ??= window.navigator; // Node 20 has none; react-dom reads it when loaded
globalThis.IS_REACT_ACT_ENVIRONMENT = true;
after(() => window.happyDOM.close());

const { createElement: h, act, StrictMode } = await import('react');
const { createRoot } = await import('react-dom/client');
const { useReverification } = await import('../src/react.js');
const { ReverifyClient } = await import('../src/index.js');

const client = new ReverifyClient({ fetch: async () => json(404, { code: 'not_found' }) });

/** Renders a component calling the hook in one of its two forms; returns what each render got. */
function mount(form) {
  const seen = [];
  function Probe({ fetcher, options }) {
    if (form === 'array') {
      const [fn] = useReverification(fetcher, options);
      seen.push(fn);
    } else {
      seen.push(useReverification(fetcher, options));
    }
    return h('span', null, String(seen.length));
  }
  const container = document.createElement('div');
  document.body.appendChild(container);
  const root = createRoot(container);
  const render = (props) => act(async () => root.render(h(StrictMode, null, h(Probe, props))));
  return { seen, render, container, unmount: () => act(async () => root.unmount()) };
}

for (const form of ['function', 'array']) {
  test(`${form} form: one stable function across renders that calls the latest fetcher`, async () => {
    const { seen, render, container, unmount } = mount(form);
    const calls = [];
    const fetcherA = async (x) => (calls.push(['A', x]), 'from A');
    const fetcherB = async (x) => (calls.push(['B', x]), 'from B');
    await render({ fetcher: fetcherA, options: { client } });
    await render({ fetcher: fetcherB, options: { client } });
    await render({ fetcher: fetcherB, options: { client } });
    assert.ok(seen.length >= 3, 'rendered at least three times');
    assert.notEqual(container.textContent, '', 'React rendered into the DOM');
    assert.equal(typeof seen[0], 'function');
    assert.ok(
      seen.every((f) => f === seen[0]),
      'same identity on every render',
    );
    assert.equal(await seen[0](7), 'from B');
    assert.deepEqual(calls, [['B', 7]]);
    // The early array form destructures the very same function.
    const [again] = seen[0];
    assert.equal(again, seen[0]);
    await unmount();
  });
}

test('the hook asks through the latest onNeedsReverification and retries once with the same arguments', async () => {
  const { seen, render, unmount } = mount('function');
  const asked = [];
  let n = 0;
  const fetcher = async (amount) => (++n === 1 ? reverificationResponse('strict_mfa') : json(200, { amount }));
  const stale = () => assert.fail('an old onNeedsReverification was used');
  await render({ fetcher, options: { client, onNeedsReverification: stale } });
  await render({
    fetcher,
    options: { client, onNeedsReverification: ({ level, complete }) => (asked.push(level), complete()) },
  });
  let res;
  await act(async () => {
    res = await seen.at(-1)(250);
  });
  assert.deepEqual(asked, ['multi_factor']);
  assert.equal(n, 2);
  assert.deepEqual(await res.json(), { amount: 250 });
  await unmount();
});

test('the hook passes the action to onNeedsReverification and an idempotency key to the fetcher', async () => {
  const { seen, render, unmount } = mount('function');
  const { approvalResponse, action } = await import('./fake.js');
  const asked = [];
  const keys = [];
  const fetcher = async (key, amount) => (
    keys.push(key),
    keys.length === 1 ? approvalResponse() : json(200, { amount })
  );
  await render({
    fetcher,
    options: {
      client,
      idempotencyKey: true,
      onNeedsReverification: ({ action, complete }) => (asked.push(action), complete()),
    },
  });
  let res;
  await act(async () => {
    res = await seen.at(-1)(250);
  });
  assert.deepEqual(asked, [action()]);
  assert.equal(keys.length, 2);
  assert.equal(keys[0], keys[1]);
  assert.deepEqual(await res.json(), { amount: 250 });
  await unmount();
});
