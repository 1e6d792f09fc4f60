import type { IdempotentReverificationOptions, ReverificationOptions } from './index.js';

/** The hook's result: a function with the fetcher's arguments, also destructurable as `[fn]`. */
export type ReverificationHandle<A extends unknown[], R> = ((...args: A) => Promise<Awaited<R>>) &
  Iterable<(...args: A) => Promise<Awaited<R>>> & {
    /** The early array form: `const [fn] = useReverification(fetcher)`. */
    [Symbol.iterator](): Iterator<(...args: A) => Promise<Awaited<R>>>;
  };

/**
 * `withReverification` for React: a function whose identity is stable across renders and
 * which always calls the latest `fetcher` and `options`. Both
 * `const f = useReverification(fetcher)` and `const [f] = useReverification(fetcher)` work.
 */
export declare function useReverification<A extends unknown[], R>(
  fetcher: (key: string, ...args: A) => R,
  options: IdempotentReverificationOptions,
): ReverificationHandle<A, R>;
export declare function useReverification<A extends unknown[], R>(
  fetcher: (...args: A) => R,
  options?: ReverificationOptions,
): ReverificationHandle<A, R>;
