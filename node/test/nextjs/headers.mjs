// Stands in for `next/headers` in the adapter's tests: `headers()` resolves to the headers
// `withHeaders` runs its function with, as Next gives each request its own.
import { AsyncLocalStorage } from 'node:async_hooks';

const current = new AsyncLocalStorage();

export const calls = { headers: 0 };

export async function headers() {
  calls.headers++;
  const store = current.getStore();
  if (!store) throw new Error('headers() was called outside a request scope');
  return store;
}

/** Runs `fn` as one request carrying `init` (a plain object of header names and values). */
export function withHeaders(init, fn) {
  return current.run(new Headers(init), fn);
}
