// Types of @reverify/server/fastify.
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthObject, Policy, ReverifyOptions } from './index.js';

export type { AuthObject, ReverifyOptions } from './index.js';

/** A route hook (`preHandler`, or `onRequest` after the plugin's) that may answer the request. */
export type ReverifyHook = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/**
 * The plugin (not encapsulated): decorates the request with `auth`, set in an `onRequest`
 * hook; never answers by itself. A misconfiguration fails the registration.
 */
export declare const reverifyPlugin: FastifyPluginCallback<ReverifyOptions>;
/** The request's auth object. Throws when the plugin is not registered. */
export declare function getAuth(request: FastifyRequest): AuthObject;
/** Lets signed-in requests through; answers the others 401 / 403 / 503 with `{code, message}`. */
export declare function requireAuth(): ReverifyHook;
/** Signed-out requests get their auth error, sessions not satisfying `policy` the reverification 403. Throws `PolicyError` for an invalid policy. */
export declare function requireReverification(policy: Policy): ReverifyHook;
/** Answers a signed-out request with its error. */
export declare function sendAuthError(reply: FastifyReply, auth: AuthObject): FastifyReply;
/** Answers 403 with the reference's body and the RFC 9470 challenge. Throws `PolicyError` for an invalid policy. */
export declare function sendReverificationError(reply: FastifyReply, policy: Policy): FastifyReply;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `reverifyPlugin` in `onRequest` (`null` before); read it with `getAuth(request)`. */
    auth: AuthObject | null;
  }
}
