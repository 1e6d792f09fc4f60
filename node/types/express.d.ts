// Types of @reverify/server/express.
import type { Request, RequestHandler, Response } from 'express';
import type { AuthObject, Policy, ReverifyOptions } from './index.js';

export type { AuthObject, ReverifyOptions } from './index.js';

/** Authenticates every request and sets `req.auth`; never answers by itself. Throws for a misconfiguration. */
export declare function reverifyMiddleware(options: ReverifyOptions): RequestHandler;
/** The request's auth object. Throws when `reverifyMiddleware()` did not run. */
export declare function getAuth(req: Request): AuthObject;
/** Lets signed-in requests through; answers the others 401 / 403 / 503 with `{code, message}`. */
export declare function requireAuth(): RequestHandler;
/** Signed-out requests get their auth error, sessions not satisfying `policy` the reverification 403. Throws `PolicyError` for an invalid policy. */
export declare function requireReverification(policy: Policy): RequestHandler;
/** Answers a signed-out request with its error. */
export declare function sendAuthError(res: Response, auth: AuthObject): void;
/** Answers 403 with the reference's body and the RFC 9470 challenge. Throws `PolicyError` for an invalid policy. */
export declare function sendReverificationError(res: Response, policy: Policy): void;

declare global {
  namespace Express {
    interface Request {
      /** Set by `reverifyMiddleware()`; read it with `getAuth(req)`. */
      auth?: AuthObject;
    }
  }
}
