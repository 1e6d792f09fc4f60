// A stand-in for the core module (js/src/index.js, written elsewhere), mapped over it by
// the import map of index.html, so the UI can be tested alone. It follows CONTRACT.md in
// the little the UI uses: ReverifyError, REVERIFICATION_CANCELLED, setDefaultPrompt and a
// withReverification that knows only thrown errors with code "reverification-error".
export const REVERIFICATION_CANCELLED = 'reverification_cancelled';
export const SIGNED_OUT = 'signed_out';

export class ReverifyError extends Error {
  constructor(code, message, { status = 0, body = null, retryAfter = null } = {}) {
    super(message || code);
    this.name = 'ReverifyError';
    Object.assign(this, { code, status, body, retryAfter });
  }
}

let prompt = null;
export function setDefaultPrompt(fn) {
  prompt = fn;
}
export const defaultPrompt = () => prompt;

export function withReverification(fetcher, { client, level } = {}) {
  return async (...args) => {
    try {
      return await fetcher(...args);
    } catch (e) {
      if (e?.code !== 'reverification-error') throw e;
      globalThis.promptCount = (globalThis.promptCount || 0) + 1;
      const action = e.body?.clerk_error?.metadata?.action;
      await prompt({ level: level || e.level || 'second_factor', action, client });
      return fetcher(...args);
    }
  };
}
