// The announcement's flow on a plain page: the Transfer button's handler is wrapped once
// with `withReverification`; the server asks for the user's approval of the transfer, the
// verification modal shows it ("Approve: Send €25.00 to Bob"), and the call is retried
// once after it. The page follows the client's session live: its sections
// switch on sign-in and sign-out, and a session ended elsewhere shows the sign-in at once.
import { ReverifyClient, withReverification } from '/auth/sdk/index.js';
import '/auth/sdk/ui/index.js';
import { TEXT, euros, readAccount, readTransfer, transferFailure, transferOutcome } from '/bank.js';

const client = new ReverifyClient({ baseUrl: '/auth' });
const $ = (id) => document.getElementById(id);

// Every transfer needs the user's approval of it: the server answers 403 with the action
// ("Send €25.00 to Bob"), the modal shows it, and the call is retried once with the
// approval. The key (one per Transfer, the same on that retry and on network retries)
// makes a repeat get the first answer instead of moving money again.
const transferMoney = withReverification(
  (key, to, amountCents) =>
    fetch('/api/transfer', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `"${key}"` },
      body: JSON.stringify({ to, amount_cents: amountCents }),
    }),
  { client, idempotencyKey: true },
);

/** The page-level notice (above the sections, shown signed in or out). */
function notice(text, error = false) {
  $('notice').textContent = text;
  $('notice').className = error ? 'notice error' : 'notice';
}

/** The transfer form's status line (its space is kept when empty: no layout shift). */
function status(text, kind = '') {
  $('status').textContent = text;
  $('status').className = `form-status ${kind}`;
}

/** An error shown by its field (`to` or `amount`), which is marked invalid; '' clears it. */
function fieldError(field, text) {
  $(`${field}-error`).textContent = text;
  if (text) $(field).setAttribute('aria-invalid', 'true');
  else $(field).removeAttribute('aria-invalid');
}

function showTransfers(transfers) {
  $('transfers').replaceChildren(
    ...transfers.map((t) => {
      const item = document.createElement('li');
      const to = document.createElement('span');
      to.textContent = `To ${t.to}`;
      const amount = document.createElement('span');
      amount.className = 'amount';
      amount.textContent = `−${euros(t.amount_cents)}`;
      item.append(to, amount);
      return item;
    }),
  );
  $('no-transfers').hidden = transfers.length > 0;
}

/** Reads the balance and the recent transfers again. */
async function refreshBalance() {
  const { balanceCents, transfers } = await readAccount(client);
  if (balanceCents !== null) $('balance').textContent = euros(balanceCents);
  if (transfers) showTransfers(transfers);
}

// The sections switch on every change; the balance is read again only when another user
// signs in: a verification also changes the session, and re-reading then could race with
// the retried transfer.
let shown = null;
function render() {
  const user = client.user;
  $('signed-out').hidden = !!user;
  $('signed-in').hidden = !user;
  if (user && user.id !== shown) {
    shown = user.id;
    $('email').textContent = user.email;
    $('balance').textContent = '…';
    status('');
    fieldError('to', '');
    fieldError('amount', '');
    // The account element gets the client once someone is signed in (it then follows the
    // session itself): a signed-out page load asks the server for nothing it cannot answer.
    if (!$('account').client) $('account').client = client;
    refreshBalance().catch(() => {});
  }
  if (!user) {
    shown = null;
    showTransfers([]);
  }
}

let pending = false;
/** While a transfer is pending, the button (and so the form's submit) is disabled and busy. */
function setPending(on) {
  pending = on;
  const button = $('transfer');
  button.disabled = on;
  button.textContent = on ? 'Transferring…' : 'Transfer';
  if (on) button.setAttribute('aria-busy', 'true');
  else button.removeAttribute('aria-busy');
}

$('transfer-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  // One intent, one request: a second click or Enter while this one runs does nothing.
  if (pending) return;
  fieldError('to', '');
  fieldError('amount', '');
  status('');
  const input = readTransfer($('to').value, $('amount').value);
  if (input.field) return fieldError(input.field, input.message);
  const from = document.activeElement;
  setPending(true);
  status('Transferring…');
  try {
    const outcome = await transferOutcome(await transferMoney(input.to, input.cents));
    status(outcome.field ? '' : outcome.message, outcome.ok ? 'ok' : 'error');
    if (outcome.field) fieldError(outcome.field, outcome.message);
    if (outcome.ok) {
      $('balance').textContent = euros(outcome.body.balance_cents);
      refreshBalance().catch(() => {});
    }
  } catch (error) {
    const failure = transferFailure(error);
    status(failure.message || '', 'error');
    if (failure.notice) notice(failure.notice, true);
  } finally {
    setPending(false);
    // Disabling the focused button dropped focus to <body>: bring it back.
    if (from?.isConnected && (!document.activeElement || document.activeElement === document.body)) from.focus();
  }
});

$('sign-out').addEventListener('click', () =>
  client.signOut().catch((e) => notice(`Sign-out failed: ${e.message}`, true)),
);
for (const id of ['sign-in', 'sign-up']) $(id).client = client;
client.onChange(({ user, reason } = {}) => {
  if (reason === 'session_ended') notice(TEXT.sessionEnded, true);
  else if (user && user.id !== shown) notice(''); // someone signed in: old news goes
  render();
});
// For the end-to-end tests (and the curious): the same objects from the console.
window.demo = { client, transferMoney, refreshBalance };
try {
  await client.load();
} catch (e) {
  notice(`The auth server did not answer: ${e.message}`, true);
}
render();
