'use client';

// The page's client side: Reverify's sign-in and sign-up elements while signed out; the
// Transfer button and the account element (set up an authenticator app) while signed in.
// The transfer is wrapped with `useReverification`: when the route answers that the
// session must be verified again, the verification modal opens, and once it completes the
// request is sent once more.
import { useEffect, useRef, useState } from 'react';
import { ReverifyClient, type ReverifyError } from '@reverify/browser';
import { useReverification } from '@reverify/browser/react';
import { sessionStatus } from './actions';

type User = { email: string } | null;

export default function Bank() {
  const [client] = useState(() => (typeof window === 'undefined' ? null : new ReverifyClient({ baseUrl: '/auth' })));
  const [ready, setReady] = useState(false);
  const [user, setUser] = useState<User>(null);
  const [status, setStatus] = useState('');
  const [strict, setStrict] = useState<boolean | null>(null);
  const signIn = useRef<HTMLElement>(null);
  const signUp = useRef<HTMLElement>(null);
  const account = useRef<HTMLElement>(null);

  useEffect(() => {
    if (!client) return;
    let live = true;
    const off = client.onChange(({ user }) => {
      setUser(user as User);
      // Signed in: mint a token now, which sets the `__session` cookie the API routes read
      // and keeps it fresh while the page is open.
      if (user) client.getToken().catch(() => {});
    });
    // The elements use browser APIs: loaded in the browser only.
    import('@reverify/browser/ui').then(() => {
      for (const el of [signIn.current, signUp.current, account.current]) {
        if (el) (el as HTMLElement & { client: ReverifyClient }).client = client;
      }
    });
    client
      .load()
      .catch(() => null)
      .finally(() => live && setReady(true));
    return () => {
      live = false;
      off();
    };
  }, [client]);

  // Asks the server (a server action) whether the session satisfies `strict`, once the
  // `__session` cookie carries a current token.
  async function refreshStrict() {
    await client?.getToken().catch(() => null);
    const s = await sessionStatus().catch(() => null);
    setStrict(s?.isAuthenticated ? s.strict : null);
  }

  useEffect(() => {
    if (user) refreshStrict();
    else setStrict(null);
  }, [user]);

  const transfer = useReverification(() => fetch('/api/transfer', { method: 'POST' }));

  async function onTransfer() {
    setStatus('Sending…');
    try {
      const response = await transfer();
      setStatus(response.ok ? `Transfer: ${await response.text()}` : `Refused (${response.status})`);
      await refreshStrict();
    } catch (e) {
      const code = (e as ReverifyError).code;
      setStatus(code === 'reverification_cancelled' ? 'Transfer not made: you did not verify.' : `Error: ${code}`);
    }
  }

  const signedIn = user !== null;
  return (
    <>
      <section hidden={!ready || signedIn} aria-label="Sign in">
        <reverify-sign-in ref={signIn} />
        <details>
          <summary>No account yet? Create one</summary>
          <reverify-sign-up ref={signUp} />
        </details>
      </section>
      <section hidden={!signedIn} aria-label="Your account">
        <p id="who">Signed in as {user?.email}</p>
        <button id="transfer" className="primary" onClick={onTransfer}>
          Transfer €100
        </button>
        <p id="status" role="status">
          {status}
        </p>
        <p id="strict">
          {strict === null ? '' : strict ? 'Verified in the last 10 minutes' : 'Transfers will ask you to verify'}
        </p>
        <details>
          <summary>Security (authenticator app, devices)</summary>
          <reverify-account ref={account} />
        </details>
      </section>
    </>
  );
}
