// Passkeys: the server speaks JSON with base64url strings; navigator.credentials speaks
// ArrayBuffers. Browsers that have the WebAuthn Level 3 JSON helpers use them; the others
// get the small conversion below.

/** @param {string} s base64url @returns {ArrayBuffer} */
export const fromBase64url = (s) =>
  Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).buffer;

/** @param {ArrayBuffer | Uint8Array} b @returns {string} base64url without padding */
export const toBase64url = (b) =>
  btoa(String.fromCharCode(...new Uint8Array(b)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

const ids = (list) => list && list.map((c) => ({ ...c, id: fromBase64url(c.id) }));
/** @returns {any} */
const PKC = () => globalThis.PublicKeyCredential || {};

/**
 * Options for `navigator.credentials.create()` from the server's `publicKey` JSON.
 * @param {any} o
 * @returns {PublicKeyCredentialCreationOptions}
 */
export const parseCreationOptions = (o) =>
  PKC().parseCreationOptionsFromJSON
    ? PKC().parseCreationOptionsFromJSON(o)
    : {
        ...o,
        challenge: fromBase64url(o.challenge),
        user: { ...o.user, id: fromBase64url(o.user.id) },
        excludeCredentials: ids(o.excludeCredentials),
      };

/**
 * Options for `navigator.credentials.get()` from the server's `publicKey` JSON.
 * @param {any} o
 * @returns {PublicKeyCredentialRequestOptions}
 */
export const parseRequestOptions = (o) =>
  PKC().parseRequestOptionsFromJSON
    ? PKC().parseRequestOptionsFromJSON(o)
    : { ...o, challenge: fromBase64url(o.challenge), allowCredentials: ids(o.allowCredentials) };

/**
 * A credential from `navigator.credentials.create/get` as the JSON the server expects
 * (`credential.toJSON()` where the browser has it).
 * @param {any} c a PublicKeyCredential
 * @returns {object}
 */
export function credentialToJSON(c) {
  if (typeof c.toJSON == 'function') return c.toJSON();
  const r = c.response,
    response = {};
  for (const k of ['clientDataJSON', 'authenticatorData', 'signature', 'userHandle', 'attestationObject'])
    if (r[k]) response[k] = toBase64url(r[k]);
  if (r.getTransports) response.transports = r.getTransports();
  return {
    id: c.id,
    rawId: toBase64url(c.rawId),
    type: c.type,
    response,
    authenticatorAttachment: c.authenticatorAttachment ?? null,
    clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
  };
}

/**
 * Runs `navigator.credentials.get()` with the server's options and returns the assertion
 * as JSON. Accepts `{publicKey}` or the `publicKey` object itself.
 * @param {any} options
 * @param {AbortSignal} [signal]
 */
export const getPasskey = async (options, signal) =>
  credentialToJSON(
    await navigator.credentials.get({ publicKey: parseRequestOptions(options.publicKey || options), signal }),
  );

/**
 * Runs `navigator.credentials.create()` with the server's options and returns the new
 * credential as JSON. Accepts `{publicKey}` or the `publicKey` object itself.
 * @param {any} options
 * @param {AbortSignal} [signal]
 */
export const createPasskey = async (options, signal) =>
  credentialToJSON(
    await navigator.credentials.create({ publicKey: parseCreationOptions(options.publicKey || options), signal }),
  );
