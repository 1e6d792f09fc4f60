import { useInsertionEffect, useRef, useState } from 'react';
import { withReverification } from './reverification.js';

/**
 * React binding of {@link withReverification}: returns a function with the fetcher's
 * arguments whose identity never changes across renders, and which always calls the
 * latest `fetcher` with the latest `options`. It is also iterable, so both the current
 * form and the early array form work:
 *
 * @example
 * const transfer = useReverification((amount) => fetch('/api/transfer', …));
 * const [transfer] = useReverification((amount) => fetch('/api/transfer', …));
 *
 * @template {(...args: any[]) => any} F
 * @param {F} fetcher
 * @param {Parameters<typeof withReverification>[1]} [options]
 */
export function useReverification(fetcher, options) {
  const latest = useRef([fetcher, options]);
  // Committed renders only (not during render): an abandoned render must not leak its fetcher.
  useInsertionEffect(() => {
    latest.current = [fetcher, options];
  });
  const [fn] = useState(() => {
    const f = function (...args) {
      return withReverification(latest.current[0], latest.current[1]).apply(this, args);
    };
    f[Symbol.iterator] = () => [f][Symbol.iterator]();
    return f;
  });
  return fn;
}
