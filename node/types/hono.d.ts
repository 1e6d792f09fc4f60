// Types of @reverify/server/hono.
import type { Context, MiddlewareHandler } from 'hono';
import type { AuthObject, Policy, ReverifyOptions } from './index.js';

export type { AuthObject, ReverifyOptions } from './index.js';
export { authErrorResponse, reverificationErrorResponse } from './index.js';

/** The context variable holding the auth object. */
export declare const AUTH_KEY: 'reverifyAuth';

/** The variables `reverifyMiddleware()` sets, for `new Hono<ReverifyEnv>()`. */
export interface ReverifyEnv {
  Variables: { reverifyAuth: AuthObject };
}

/** Authenticates every request and sets `c.get('reverifyAuth')`; never answers by itself. Throws for a misconfiguration. */
export declare function reverifyMiddleware(options: ReverifyOptions): MiddlewareHandler<ReverifyEnv>;
/** The request's auth object. Throws when `reverifyMiddleware()` did not run. */
export declare function getAuth(c: Context): AuthObject;
/** Lets signed-in requests through; answers the others 401 / 403 / 503 with `{code, message}`. */
export declare function requireAuth(): MiddlewareHandler;
/** Signed-out requests get their auth error, sessions not satisfying `policy` the reverification 403. Throws `PolicyError` for an invalid policy. */
export declare function requireReverification(policy: Policy): MiddlewareHandler;

declare module 'hono' {
  interface ContextVariableMap {
    reverifyAuth: AuthObject;
  }
}
