// The demo bank written with React: the same page as `/`, and the announcement's example
// as written there — `const [transferMoney] = useReverification(...)`.
import React, { useCallback, useEffect, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { ReverifyClient } from '@reverify/browser';
import { useReverification } from '@reverify/browser/react';
import '@reverify/browser/ui';
import { TEXT, euros, readAccount, readTransfer, transferFailure, transferOutcome } from '../bank.js';

const client = new ReverifyClient({ baseUrl: '/auth' });
// For the end-to-end tests (and the curious).
window.demo = { client };

/** Hands the client to one of the SDK's elements. */
const withClient = (el) => {
  if (el && el.client !== client) el.client = client;
};

/** The page-level notice, shown signed in or out. */
function Notice({ notice }) {
  return (
    <p id="notice" className={notice?.error ? 'notice error' : 'notice'} role="status">
      {notice?.text || ''}
    </p>
  );
}

function SignedOut() {
  return (
    <section id="signed-out">
      <h2>Sign in or create an account</h2>
      <p>
        Email codes are shown in the{' '}
        <a href="/auth/dev/outbox" target="_blank">
          dev outbox
        </a>
        .
      </p>
      <reverify-sign-in id="sign-in" ref={withClient} />
      <details>
        <summary>No account yet? Sign up</summary>
        <reverify-sign-up id="sign-up" ref={withClient} />
      </details>
    </section>
  );
}

function Balance({ user, account }) {
  const { balanceCents, transfers } = account;
  return (
    <section aria-labelledby="balance-title">
      <h2 id="balance-title">Balance</h2>
      <p className="balance" id="balance" aria-live="polite">
        {balanceCents === null ? '…' : euros(balanceCents)}
      </p>
      <p className="who">
        <span>
          Signed in as <strong id="email">{user.email}</strong>
        </span>
        <button className="secondary" id="sign-out" type="button" onClick={() => client.signOut().catch(() => {})}>
          Sign out
        </button>
      </p>
      <h3 className="muted" id="transfers-title">
        Recent transfers
      </h3>
      <ul className="transfers" id="transfers" aria-labelledby="transfers-title">
        {(transfers || []).map((t) => (
          <li key={t.id}>
            <span>To {t.to}</span>
            <span className="amount">−{euros(t.amount_cents)}</span>
          </li>
        ))}
      </ul>
      <p className="muted" id="no-transfers" hidden={!transfers || transfers.length > 0}>
        No transfers yet.
      </p>
    </section>
  );
}

function Transfer({ onSent, onNotice }) {
  const [to, setTo] = useState('Bob');
  const [amount, setAmount] = useState('25');
  const [errors, setErrors] = useState({ to: '', amount: '' });
  const [result, setResult] = useState({ text: '', kind: '' });
  const [pending, setPending] = useState(false);
  // The guard a second click meets even before React re-renders the disabled button.
  const busy = useRef(false);
  // The announcement's array form; `const transferMoney = useReverification(...)` works too.
  // Every transfer needs the user's approval of it (the modal shows "Approve: Send €25.00
  // to Bob"); the key, one per Transfer and the same on the retry, makes a repeat harmless.
  const [transferMoney] = useReverification(
    (key, payee, amountCents) =>
      fetch('/api/transfer', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `"${key}"` },
        body: JSON.stringify({ to: payee, amount_cents: amountCents }),
      }),
    { client, idempotencyKey: true },
  );

  const onSubmit = async (event) => {
    event.preventDefault();
    if (busy.current) return; // one intent, one request
    setErrors({ to: '', amount: '' });
    const input = readTransfer(to, amount);
    if (input.field) return setErrors({ to: '', amount: '', [input.field]: input.message });
    busy.current = true;
    setPending(true);
    setResult({ text: 'Transferring…', kind: '' });
    try {
      const outcome = await transferOutcome(await transferMoney(input.to, input.cents));
      if (outcome.field) {
        setResult({ text: '', kind: '' });
        setErrors({ to: '', amount: '', [outcome.field]: outcome.message });
      } else setResult({ text: outcome.message, kind: outcome.ok ? 'ok' : 'error' });
      if (outcome.ok) onSent(outcome.body);
    } catch (error) {
      const failure = transferFailure(error);
      setResult({ text: failure.message || '', kind: 'error' });
      if (failure.notice) onNotice({ text: failure.notice, error: true });
    } finally {
      busy.current = false;
      setPending(false);
    }
  };

  return (
    <section aria-labelledby="transfer-title">
      <h2 id="transfer-title">Transfer</h2>
      <form id="transfer-form" noValidate onSubmit={onSubmit}>
        <label htmlFor="to">To</label>
        <input
          id="to"
          name="to"
          value={to}
          onChange={(e) => setTo(e.target.value)}
          required
          maxLength={100}
          aria-describedby="to-error"
          aria-invalid={errors.to ? 'true' : undefined}
        />
        <p className="field-error" id="to-error" role="alert">
          {errors.to}
        </p>
        <label htmlFor="amount">Amount (€)</label>
        <input
          id="amount"
          name="amount"
          type="number"
          inputMode="decimal"
          min="0.01"
          step="0.01"
          value={amount}
          onChange={(e) => setAmount(e.target.value)}
          required
          aria-describedby="amount-error"
          aria-invalid={errors.amount ? 'true' : undefined}
        />
        <p className="field-error" id="amount-error" role="alert">
          {errors.amount}
        </p>
        <button id="transfer" type="submit" disabled={pending} aria-busy={pending ? 'true' : undefined}>
          {pending ? 'Transferring…' : 'Transfer'}
        </button>
        <p className={`form-status ${result.kind}`} id="status" role="status" aria-live="polite">
          {result.text}
        </p>
      </form>
    </section>
  );
}

function SignedIn({ user, onNotice }) {
  const [account, setAccount] = useState({
    balanceCents: null,
    transfers: null,
  });
  const refresh = useCallback(
    () =>
      readAccount(client)
        .then((next) =>
          setAccount((now) => ({
            balanceCents: next.balanceCents ?? now.balanceCents,
            transfers: next.transfers ?? now.transfers,
          })),
        )
        .catch(() => {}),
    [],
  );
  // Read once per user: a verification also changes the session, and re-reading then
  // could race with the retried transfer.
  useEffect(() => {
    refresh();
  }, [user.id, refresh]);
  const onSent = (body) => {
    setAccount((now) => ({ ...now, balanceCents: body.balance_cents }));
    refresh();
  };
  return (
    <div id="signed-in">
      <Balance user={user} account={account} />
      <Transfer onSent={onSent} onNotice={onNotice} />
      <section aria-labelledby="security-title">
        <h2 id="security-title">Security</h2>
        <reverify-account id="account" ref={withClient} />
      </section>
    </div>
  );
}

function App() {
  // undefined: not loaded yet; null: signed out.
  const [user, setUser] = useState(undefined);
  const [notice, setNotice] = useState(null);
  const shown = useRef(null); // the id of the user the page shows
  useEffect(() => {
    const off = client.onChange(({ user: next, reason } = {}) => {
      if (reason === 'session_ended') setNotice({ text: TEXT.sessionEnded, error: true });
      else if (next && next.id !== shown.current) setNotice(null); // someone signed in: old news goes
      shown.current = next?.id ?? null;
      setUser(client.user);
    });
    client
      .load()
      .then(() => {
        shown.current = client.user?.id ?? null;
        setUser(client.user);
      })
      .catch((e) => {
        setNotice({
          text: `The auth server did not answer: ${e.message}`,
          error: true,
        });
        setUser(null);
      });
    return off;
  }, []);
  return (
    <>
      <h1>Reverify demo bank</h1>
      <Notice notice={notice} />
      {user === undefined ? (
        <p className="muted">Loading…</p>
      ) : user ? (
        <SignedIn key={user.id} user={user} onNotice={setNotice} />
      ) : (
        <SignedOut />
      )}
      <p className="muted">
        The same page without React: <a href="/">/</a>.
      </p>
    </>
  );
}

createRoot(document.getElementById('root')).render(<App />);
