// What both demo pages (`/` and `/react`) share: money formatting, the transfer API's
// errors by field, and the page's wording.

/** `2500` → `€25.00`. */
export const euros = (cents) => (cents / 100).toLocaleString('en', { style: 'currency', currency: 'EUR' });

/** A server message as a sentence: `the balance is too low` → `The balance is too low.` */
export const sentence = (text) => (text ? text[0].toUpperCase() + text.slice(1).replace(/\.?$/, '.') : '');

/** The transfer API's error codes, by the form field they are about. */
export const FIELD_OF = {
  invalid_amount: 'amount',
  insufficient_funds: 'amount',
  invalid_recipient: 'to',
};

/** How many recent transfers the pages list under the balance. */
export const RECENT = 5;

export const TEXT = {
  sessionEnded: 'You were signed out. Sign in again to continue.',
  signedOutDuringTransfer: 'You were signed out, so the transfer was not made. Sign in again to continue.',
  cancelled: 'Transfer not made: you did not approve it.',
  notApproved: 'Transfer not made: it was not approved.',
  noRecipient: 'Name who receives the money.',
  noAmount: 'Enter an amount in euros.',
  sent: (t) => `Sent ${euros(t.amount_cents)} to ${t.to}.`,
};

/**
 * Checks the form's values; `{to, cents}` to send, or `{field, message}` to show.
 * @param {string} to
 * @param {string} amount
 */
export function readTransfer(to, amount) {
  const name = to.trim();
  const value = Number(amount);
  if (!name) return { field: 'to', message: TEXT.noRecipient };
  if (amount.trim() === '' || !Number.isFinite(value)) return { field: 'amount', message: TEXT.noAmount };
  return { to: name, cents: Math.round(value * 100) };
}

/**
 * What a finished transfer call means for the page: `{ok, body}` (sent), `{field,
 * message}` (an error about a field) or `{message}` (another error).
 * @param {Response} response
 */
export async function transferOutcome(response) {
  const body = await response.json().catch(() => ({}));
  if (response.ok) return { ok: true, body, message: TEXT.sent(body) };
  // A second reverification error (the approval expired or was already used): not sent.
  if (body.clerk_error?.reason === 'reverification-error') return { message: TEXT.notApproved };
  const message = sentence(body.message) || `Transfer failed (${response.status}).`;
  return FIELD_OF[body.code] ? { field: FIELD_OF[body.code], message } : { message };
}

/** What a rejected transfer call means: `{notice}` (signed out) or `{message}`. */
export function transferFailure(error) {
  if (error?.code === 'signed_out') return { notice: TEXT.signedOutDuringTransfer };
  if (error?.code === 'reverification_cancelled') return { message: TEXT.cancelled };
  return { message: `Transfer failed: ${error?.message || error}` };
}

/** The balance and the recent transfers (after renewing the `__session` cookie). */
export async function readAccount(client) {
  await client.getToken();
  const [balance, history] = await Promise.all([fetch('/api/balance'), fetch('/api/transfers')]);
  return {
    balanceCents: balance.ok ? (await balance.json()).balance_cents : null,
    transfers: history.ok ? (await history.json()).transfers.slice(0, RECENT) : null,
  };
}
