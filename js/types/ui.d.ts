// Types for `@reverify/browser/ui`: the custom elements. Importing the module defines
// <reverify-verification-modal>, <reverify-sign-in>, <reverify-sign-up> and
// <reverify-account> (once) and makes the modal the default prompt of withReverification.
import type { Action, ReverifyClient } from './index.js';

export type VerificationLevel = 'first_factor' | 'second_factor' | 'multi_factor';

/**
 * What every element shares: the client it talks to (followed live: sign-in, sign-out and a
 * session ended elsewhere update the element), an open shadow root styled by the
 * `--reverify-*` custom properties and `::part()`s, and the `theme` attribute
 * (`"light"` | `"dark"`; default: `prefers-color-scheme`).
 */
declare class ReverifyElement extends HTMLElement {
  /** Setting another client starts the element over. */
  client: ReverifyClient | null | undefined;
}
export type { ReverifyElement };

/**
 * A modal dialog that verifies the signed-in user again, naming the app and the account.
 * `open()` resolves with the server's answer once the verification is `complete` (the
 * client then holds the fresh token) and rejects with a `ReverifyError` whose `code` is
 * `reverification_cancelled` on Escape, the close button or `cancel()`, or `signed_out`
 * when the session ends meanwhile.
 * Events: `reverify:complete` (detail: the answer), `reverify:cancel` (detail: `{ code }`).
 */
export declare class VerificationModal extends ReverifyElement {
  /** With an `action`: shows "Approve: <summary>" and starts the verification for it. */
  open(options?: { level?: VerificationLevel; action?: Action; client?: ReverifyClient }): Promise<unknown>;
  cancel(): void;
}

/**
 * Sign-in by password or emailed code, then the second factor when the account has one,
 * or by passkey (button shown where WebAuthn exists; the `no-passkey` attribute hides it).
 * Event: `reverify:signed-in` (detail: `{ status: "complete", session, user, token }`).
 */
export declare class SignIn extends ReverifyElement {}

/** Sign-up by email and password, then the emailed code. Event: `reverify:signed-up`. */
export declare class SignUp extends ReverifyElement {}

/**
 * The signed-in user's account: password, authenticator app (QR code, backup codes shown
 * once), backup codes, passkeys, the devices signed in (sign out one or all others), and
 * account deletion. Changes go through withReverification.
 * Event: `reverify:account-deleted`.
 */
export declare class Account extends ReverifyElement {}

/** Opens a modal for `level` (and `action`, to approve) (appended to <body>, removed when it settles): the default prompt. */
export declare function openVerification(options: {
  level: VerificationLevel;
  action?: Action;
  client: ReverifyClient;
}): Promise<unknown>;

/**
 * The texts shown, by key (plain text; "{name}" placeholders are filled in). Error
 * messages are `e_<server error code>` (e.g. `e_invalid_code`, `e_locked` with `{method}`
 * and `{wait}`); strategy names `s_<strategy>`, descriptions `d_<strategy>`.
 */
export declare const strings: Record<string, string>;

/** Replaces some texts (merged into `strings`; shown from the next render on). */
export declare function setStrings(table: Partial<Record<string, string>>): void;

export interface ReverifyUIEvents {
  'reverify:complete': CustomEvent<unknown>;
  'reverify:cancel': CustomEvent<{ code: string }>;
  'reverify:account-deleted': CustomEvent<undefined>;
  'reverify:signed-in': CustomEvent<{ status: 'complete'; session: unknown; user: unknown; token?: string }>;
  'reverify:signed-up': CustomEvent<{ status: 'complete'; session: unknown; user: unknown; token?: string }>;
}

declare global {
  interface HTMLElementTagNameMap {
    'reverify-verification-modal': VerificationModal;
    'reverify-sign-in': SignIn;
    'reverify-sign-up': SignUp;
    'reverify-account': Account;
  }
  // The events bubble: listen on the element, an ancestor or the document.
  interface HTMLElementEventMap extends ReverifyUIEvents {}
  interface DocumentEventMap extends ReverifyUIEvents {}
}
