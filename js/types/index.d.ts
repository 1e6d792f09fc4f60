// Types of @reverify/browser (the core). The sources are plain ES modules with JSDoc.

export type Level = 'first_factor' | 'second_factor' | 'multi_factor';
export type Preset = 'strict_mfa' | 'strict' | 'moderate' | 'lax';
/** A reverification policy: a preset, or a custom level and freshness window. */
export type Policy = Preset | { level: Level; afterMinutes: number };

/** The `code` every caller gets when the user cancels a reverification. */
export declare const REVERIFICATION_CANCELLED: 'reverification_cancelled';

/**
 * The `code` of the error a call rejects with when the session is gone (the server's 401
 * `signed_out`): the client is then signed out locally (listeners get `session_ended`).
 */
export declare const SIGNED_OUT: 'signed_out';

export interface ReverifyErrorInit {
  status?: number;
  body?: any;
  retryAfter?: number | null;
  cause?: unknown;
}

/**
 * An error with a stable machine `code`. Every non-2xx answer of the auth server becomes
 * one (`code` from its `{"code","message"}` body; `reverification-error` for the
 * reverification error). Requests that got no answer have code `network_error`.
 */
export declare class ReverifyError extends Error {
  constructor(code: string, message?: string, init?: ReverifyErrorInit);
  constructor(init: { code: string; message?: string } & ReverifyErrorInit);
  readonly name: 'ReverifyError';
  /** e.g. `invalid_code`, `incorrect_password`, `locked`, `too_many_attempts`, `reverification_cancelled`. */
  code: string;
  /** HTTP status; 0 when no answer came. */
  status: number;
  /** The parsed answer body, or null. */
  body: any;
  /** Seconds from `Retry-After` (423 `locked`, 429), or null. */
  retryAfter: number | null;
}

export interface User {
  id: string;
  email: string;
  created_at: number;
  has_password: boolean;
}

export interface Session {
  id: string;
  user_id: string;
  status: 'active' | 'ended';
  created_at: number;
  last_active_at: number;
  expires_at: number;
  first_factor_verified_at?: number | null;
  second_factor_verified_at?: number | null;
  current?: boolean;
  [key: string]: unknown;
}

/** For each preset: whether the session satisfies it now, and for how many more seconds. */
export type ReverificationState = Record<Preset, { satisfied: boolean; seconds_remaining: number }>;

export interface SignedIn {
  status: 'complete';
  session: Session;
  user: User;
  token: string;
}

export interface PendingSignIn {
  id: string;
  status: 'needs_email_code' | 'needs_second_factor';
  email?: string;
  supported_second_factors?: { strategy: 'totp' | 'backup_code' }[];
  expires_at: number;
}

export interface PendingSignUp {
  id: string;
  status: 'needs_email_code';
  email: string;
  expires_at: number;
}

export interface PasskeyCeremony {
  id: string;
  /** Options for `navigator.credentials.get/create` (base64url strings). */
  publicKey: any;
  expires_at?: number;
}

export interface Verification {
  id: string;
  object: 'verification';
  level: Level;
  status: 'needs_first_factor' | 'needs_second_factor' | 'complete' | 'cancelled';
  supported_first_factors: { strategy: 'password' | 'email_code' | 'passkey'; safe_identifier?: string }[];
  supported_second_factors: { strategy: 'totp' | 'backup_code' | 'passkey'; requires_user_verification?: boolean }[];
  first_factor_verified?: boolean;
  second_factor_verified?: boolean;
  attempts_left: number;
  created_at?: number;
  expires_at: number;
  /** After `prepareVerification(id, 'passkey')`: `{publicKey}` for `navigator.credentials.get`. */
  passkey?: { publicKey: any };
}

/** The answer to the attempt that completes a verification. */
export interface VerificationComplete {
  verification: Verification & { status: 'complete' };
  session: Session;
  reverification: ReverificationState;
  token: string;
  jwt: string;
  expires_in: number;
  /** When the verification was for an action: the approval `token` carries (a refresh never does). */
  approval?: Approval;
}

export type VerificationAttempt =
  | { strategy: 'password'; password: string }
  | { strategy: 'email_code' | 'totp' | 'backup_code'; code: string }
  | { strategy: 'passkey'; credential: object };

export interface Me {
  user: User;
  factors: {
    password: boolean;
    totp: { status: 'pending' | 'confirmed'; created_at: number; confirmed_at: number | null } | null;
    backup_codes_remaining: number;
    /** How many passkeys the user has (`listPasskeys()` lists them). */
    passkeys: number;
  };
  session: Session;
  reverification: ReverificationState;
}

export interface PasskeyInfo {
  id: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

/** What the sign-in screens show before anyone signs in (`GET /v1/environment`). */
export interface Environment {
  /** The product: `[app]` of the server's configuration (`name` defaults to `totp.issuer`). */
  app: { name: string; logo_url: string | null };
  /** The password rules: `min_length` in characters, `max_length` in bytes (UTF-8). */
  password: { min_length: number; max_length: number | null };
}

/**
 * Why the client's state changed: `signed_in` (a sign-in here, or a session found by
 * `load()`), `signed_out` (this page called `signOut()` or `deleteAccount()`),
 * `session_ended` (the server says the session is gone: ended elsewhere, revoked,
 * expired, or another tab signed out) or `verified` (a completed verification).
 */
export type ChangeReason = 'signed_in' | 'signed_out' | 'session_ended' | 'verified';

export interface ClientState {
  user: User | null;
  session: Session | null;
  reason: ChangeReason;
}

/** `load()`'s answer when signed in (`GET /v1/client`). */
export interface SignedInState {
  session: Session;
  user: User;
  reverification: ReverificationState;
}

export interface ReverifyClientOptions {
  /** Where the auth server's routes are mounted: `''`, `'/auth'`, `'https://auth.example.com'`. */
  baseUrl?: string;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Refresh a token this long before it expires (default 10; at most half its lifetime). */
  refreshMarginSeconds?: number;
}

/**
 * The browser's connection to a Reverify auth server. Every method that talks to the
 * server resolves with the server's JSON and rejects with a {@link ReverifyError}.
 * Any answer 401 `signed_out` signs the client out (listeners get `session_ended`); the
 * session is re-checked on focus and visibility (at most every 5 s, while signed in), and
 * tabs of one origin tell each other of sign-ins and sign-outs (`BroadcastChannel('reverify')`).
 */
export declare class ReverifyClient {
  constructor(options?: ReverifyClientOptions);
  readonly baseUrl: string;
  /** The signed-in user, or null (also before `load()`). */
  readonly user: User | null;
  /** The current session, or null. */
  readonly session: Session | null;
  /** Called on sign-in, sign-out, a session ended elsewhere and completed verifications, with the reason. Returns unsubscribe. */
  onChange(listener: (state: ClientState) => void): () => void;
  /**
   * One request to the auth server (any route); a `token` in the answer becomes the current
   * token; a 401 `signed_out` signs the client out (`session_ended`) and rejects with it.
   */
  request<T = any>(method: string, path: string, body?: object): Promise<T>;

  /** The current session (`GET /v1/client`, no error when signed out), or null when signed out. */
  load(): Promise<SignedInState | null>;
  /** The product's name and logo and the password rules; asked once per client (a failure is not kept). */
  environment(): Promise<Environment>;
  /**
   * A session token (JWT), or null when signed out. Cached until shortly before expiry;
   * concurrent callers share one request; also renews the `__session` cookie.
   */
  getToken(options?: { force?: boolean }): Promise<string | null>;

  signInWithPassword(email: string, password: string): Promise<SignedIn | PendingSignIn>;
  signInWithEmailCode(email: string): Promise<PendingSignIn>;
  attemptSignIn(
    id: string,
    attempt: { code: string; strategy?: 'email_code' | 'totp' | 'backup_code' },
  ): Promise<SignedIn | PendingSignIn>;
  signUp(email: string, password: string): Promise<PendingSignUp>;
  attemptSignUp(id: string, code: string): Promise<SignedIn>;
  startPasskeySignIn(): Promise<PasskeyCeremony>;
  finishPasskeySignIn(id: string, credential: object): Promise<SignedIn>;
  /** start → `navigator.credentials.get` → finish. */
  signInWithPasskey(): Promise<SignedIn>;
  signOut(): Promise<void>;

  /** With an `action` (as the reverification error gave it), completing it approves that action once. */
  startVerification(level?: Level, action?: Action): Promise<Verification>;
  prepareVerification(id: string, strategy: 'email_code' | 'passkey'): Promise<Verification>;
  /** On `complete`, the answer's fresh token becomes the current token before this resolves. */
  attemptVerification(id: string, body: VerificationAttempt): Promise<Verification | VerificationComplete>;
  cancelVerification(id: string): Promise<unknown>;
  getVerification(id: string): Promise<Verification>;
  /** prepare passkey → `navigator.credentials.get` → attempt. */
  verifyWithPasskey(id: string): Promise<Verification | VerificationComplete>;

  me(): Promise<Me>;
  /** Ends the other sessions unless `signOutOtherSessions: false`. */
  changePassword(
    newPassword: string,
    options?: { signOutOtherSessions?: boolean },
  ): Promise<{ status: 'changed'; other_sessions_ended: number }>;
  startTotp(): Promise<{
    status: 'pending';
    secret: string;
    uri: string;
    qr_svg: string;
    digits: number;
    period: number;
  }>;
  confirmTotp(code: string): Promise<{ status: 'confirmed'; backup_codes: string[]; token: string }>;
  removeTotp(): Promise<any>;
  regenerateBackupCodes(): Promise<{ backup_codes: string[] }>;
  listPasskeys(): Promise<{ passkeys: PasskeyInfo[] }>;
  /** start → `navigator.credentials.create` → finish. */
  registerPasskey(name?: string): Promise<PasskeyInfo>;
  renamePasskey(id: string, name: string): Promise<PasskeyInfo>;
  deletePasskey(id: string): Promise<unknown>;
  listSessions(): Promise<{ sessions: Session[] }>;
  revokeSession(id: string): Promise<unknown>;
  /** Deletes the account; signed out. */
  deleteAccount(): Promise<unknown>;
}

export declare function fromBase64url(s: string): ArrayBuffer;
export declare function toBase64url(b: ArrayBuffer | Uint8Array): string;
export declare function parseCreationOptions(json: any): PublicKeyCredentialCreationOptions;
export declare function parseRequestOptions(json: any): PublicKeyCredentialRequestOptions;
export declare function credentialToJSON(credential: any): object;
/** `navigator.credentials.get` with the server's options (`{publicKey}` or `publicKey`); the assertion as JSON. */
export declare function getPasskey(options: any, signal?: AbortSignal): Promise<object>;
/** `navigator.credentials.create` with the server's options; the new credential as JSON. */
export declare function createPasskey(options: any, signal?: AbortSignal): Promise<object>;

/** The level each preset asks for. */
export declare const PRESET_LEVELS: Readonly<Record<Preset, Level>>;

/**
 * Whether `x` is the reverification error (a 401/403 Response with the Clerk-shaped body
 * or the RFC 9470 `insufficient_user_authentication` challenge; a parsed body; a thrown
 * error carrying it). For a Response the answer is a Promise; the Response stays unread.
 */
export declare function isReverificationError(x: Response): Promise<boolean>;
export declare function isReverificationError(x: unknown): boolean;

/**
 * An action to approve, as the reverification error's `clerk_error.metadata.action` names
 * it (docs/approvals.md): the app describes it from the request; verifying for it approves
 * exactly this action, once.
 */
export interface Action {
  /** e.g. `transfer` (`a-z 0-9 _ . -`). */
  type: string;
  /** What the user approves, in plain words: `Send €25.00 to Bob` (shown as text). */
  summary: string;
  /** The values the action is bound to (strings: `amount_cents: "2500"`). */
  fields?: Record<string, string>;
  /** The server's digest of type, summary and fields. */
  digest?: string;
}

/** The approval a completed verification for an action granted (its token carries it). */
export interface Approval {
  id: string;
  digest: string;
  expires_at: number;
}

export interface NeedsReverification {
  /** The level to verify at. */
  level: Level;
  /**
   * The action to approve, when the error names one: show its `summary`, and start the
   * verification with it (`client.startVerification(level, action)`). Undefined otherwise.
   */
  action: Action | undefined;
  /** Call once the session is verified (e.g. after `client.attemptVerification` completed). */
  complete(): void;
  /** Call when the user gives up: every waiting call rejects with `reverification_cancelled`. */
  cancel(): void;
}

export interface ReverificationOptions {
  /** A custom UI; without it the prompt registered with `setDefaultPrompt` opens. */
  onNeedsReverification?: (args: NeedsReverification) => void | Promise<void>;
  /** Defaults to the most recently created ReverifyClient. */
  client?: ReverifyClient;
  /** Ask for at least this level (the error's own level when it is stronger). */
  level?: Level;
  /** `true` (see {@link IdempotentReverificationOptions}) gives the fetcher an idempotency key. */
  idempotencyKey?: false;
}

/** {@link ReverificationOptions} with `idempotencyKey: true`. */
export interface IdempotentReverificationOptions extends Omit<ReverificationOptions, 'idempotencyKey'> {
  /**
   * Give the fetcher an idempotency key as its first argument, `(key, ...args)`: a UUID,
   * one per call of the wrapper, the same on every retry (send it as `Idempotency-Key`).
   * With it, a network failure (a thrown `TypeError`) and a 409
   * `idempotency_request_in_flight` are sent again, with the same key, up to 3 times
   * (waiting `Retry-After`, at most 5 s, else 0.25 s, 0.5 s, 1 s).
   */
  idempotencyKey: true;
}

/**
 * Wraps `fetcher`: a reverification error (returned or thrown) asks the user to verify,
 * then `fetcher` runs once more with the same arguments. Other results pass through
 * untouched. Concurrent calls share one prompt, except when the error names an action to
 * approve: every such call gets its own prompt (one at a time), since an approval is
 * single-use. With `idempotencyKey: true` the fetcher gets the call's key first.
 */
export declare function withReverification<A extends unknown[], R>(
  fetcher: (key: string, ...args: A) => R,
  options: IdempotentReverificationOptions,
): (...args: A) => Promise<Awaited<R>>;
export declare function withReverification<A extends unknown[], R>(
  fetcher: (...args: A) => R,
  options?: ReverificationOptions,
): (...args: A) => Promise<Awaited<R>>;

/** What the default prompt gets: the level, the action to approve (or undefined), the client. */
export interface PromptArgs {
  level: Level;
  action: Action | undefined;
  client: ReverifyClient;
}

/** Registers the prompt opened when no `onNeedsReverification` is given (the UI module does this). */
export declare function setDefaultPrompt(fn: ((args: PromptArgs) => Promise<void>) | null): void;
