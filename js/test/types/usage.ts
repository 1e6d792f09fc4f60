// The public API used the way js/README.md, src/ui/README.md and the project README show it,
// type-checked (strict) against types/*.d.ts through the package's own `exports` map by
// `npm run check:types`. Never run: it only has to compile. Lines marked `@ts-expect-error`
// must NOT compile, so declarations that are too loose (or `any`) fail too.
import {
  ReverifyClient,
  ReverifyError,
  REVERIFICATION_CANCELLED,
  PRESET_LEVELS,
  isReverificationError,
  withReverification,
  setDefaultPrompt,
  createPasskey,
  getPasskey,
  parseCreationOptions,
  parseRequestOptions,
  credentialToJSON,
  fromBase64url,
  toBase64url,
  type Level,
  type Policy,
  type Preset,
  type Session,
  type User,
  type Verification,
  type VerificationComplete,
  type NeedsReverification,
  type ReverificationOptions,
  type IdempotentReverificationOptions,
  type Action,
  type PromptArgs,
} from '@reverify/browser';
import { useReverification, type ReverificationHandle } from '@reverify/browser/react';
import {
  VerificationModal,
  SignIn,
  SignUp,
  Account,
  openVerification,
  setStrings,
  strings,
  type ReverifyUIEvents,
} from '@reverify/browser/ui';

/** Compile-time equality of two types: `expectType<Equal<A, B>>(true)`. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
declare function expectType<T extends true>(ok: T): void;
declare function use(...values: unknown[]): void;

export async function client(): Promise<void> {
  // Session.
  const client = new ReverifyClient({ baseUrl: '/auth' });
  new ReverifyClient();
  new ReverifyClient({ fetch: (input, init) => fetch(input, init), refreshMarginSeconds: 30 });
  const baseUrl: string = client.baseUrl;
  const user: User | null = client.user;
  const session: Session | null = client.session;
  // @ts-expect-error the user comes from the server, not from the page
  client.user = null;
  const loaded = await client.load();
  if (loaded) use(loaded.session.id, loaded.user.email, loaded.reverification.strict.satisfied);
  const unsubscribe: () => void = client.onChange(({ user, session }) => use(user?.email, session?.id));
  unsubscribe();
  const token: string | null = await client.getToken();
  await client.getToken({ force: true });
  await fetch('https://api.example.com/transfer', { headers: { authorization: 'Bearer ' + token } });
  const answer = await client.request<{ ok: boolean }>('GET', '/v1/anything');
  const ok: boolean = answer.ok;
  await client.request('POST', '/v1/anything', { a: 1 });
  await client.signOut();

  // Sign-in and sign-up.
  const signedIn = await client.signInWithPassword('a@example.com', 'pw');
  if (signedIn.status === 'complete') use(signedIn.token, signedIn.user.id);
  else if (signedIn.status === 'needs_second_factor') use(signedIn.supported_second_factors);
  const pending = await client.signInWithEmailCode('a@example.com');
  await client.attemptSignIn(pending.id, { code: '123456' });
  await client.attemptSignIn(pending.id, { code: '123456', strategy: 'totp' });
  // @ts-expect-error strategies are the sign-in's own
  await client.attemptSignIn(pending.id, { code: '123456', strategy: 'password' });
  const signUp = await client.signUp('a@example.com', 'pw');
  const done = await client.attemptSignUp(signUp.id, '123456');
  use(done.session.id);
  const ceremony = await client.startPasskeySignIn();
  await client.finishPasskeySignIn(ceremony.id, await getPasskey(ceremony));
  await client.signInWithPasskey();

  // The verification flow (as in "Your own verification UI").
  const v: Verification = await client.startVerification('multi_factor');
  await client.startVerification();
  // @ts-expect-error not a level
  await client.startVerification('strict');
  await client.prepareVerification(v.id, 'email_code');
  const prepared = await client.prepareVerification(v.id, 'passkey');
  use(prepared.passkey?.publicKey);
  const attempt = await client.attemptVerification(v.id, { strategy: 'totp', code: '123456' });
  await client.attemptVerification(v.id, { strategy: 'password', password: 'pw' });
  await client.attemptVerification(v.id, { strategy: 'passkey', credential: {} });
  // @ts-expect-error a password attempt carries a password
  await client.attemptVerification(v.id, { strategy: 'password', code: '123456' });
  if ('token' in attempt) {
    const complete: VerificationComplete = attempt;
    use(complete.jwt, complete.reverification.strict_mfa.seconds_remaining);
  }
  await client.getVerification(v.id);
  await client.verifyWithPasskey(v.id);
  await client.cancelVerification(v.id);

  // The account.
  const me = await client.me();
  use(me.user.has_password, me.factors.totp?.status, me.factors.passkeys, me.factors.backup_codes_remaining);
  const changed = await client.changePassword('new password', { signOutOtherSessions: false });
  use(changed.other_sessions_ended);
  await client.changePassword('new password');
  const totp = await client.startTotp();
  use(totp.qr_svg, totp.secret, totp.uri, totp.digits, totp.period);
  const codes: string[] = (await client.confirmTotp('123456')).backup_codes;
  await client.removeTotp();
  use((await client.regenerateBackupCodes()).backup_codes.length);
  const { passkeys } = await client.listPasskeys();
  const added = await client.registerPasskey('Laptop');
  await client.registerPasskey();
  await client.renamePasskey(added.id, 'Phone');
  await client.deletePasskey(passkeys[0].id);
  const { sessions } = await client.listSessions();
  await client.revokeSession(sessions.find((s) => !s.current)!.id);
  await client.deleteAccount();
  use(baseUrl, user, session, ok, codes);
}

export async function reverification(client: ReverifyClient): Promise<void> {
  // The README's one line.
  const transferMoney = withReverification(() => fetch('/api/transfer', { method: 'POST' }));
  const res: Response = await transferMoney();
  // Arguments and results pass through; a non-promise result is awaited.
  const transfer = withReverification((amount: number) =>
    fetch('/api/transfer', { method: 'POST', body: JSON.stringify({ amount }) }),
  );
  await transfer(100);
  // @ts-expect-error the wrapper keeps the fetcher's parameters
  await transfer('100');
  const sync = withReverification((a: string, b: number) => a.repeat(b));
  expectType<Equal<typeof sync, (a: string, b: number) => Promise<string>>>(true);

  // Your own verification UI.
  const custom = withReverification(() => client.deletePasskey('pk_1'), {
    client,
    level: 'multi_factor',
    onNeedsReverification: async ({ level, complete, cancel }: NeedsReverification) => {
      const v = await client.startVerification(level);
      if (v.status === 'needs_first_factor') cancel();
      else complete();
    },
  });
  await custom();

  // Approvals: the action (or undefined) reaches a custom UI; the verification starts with it.
  const approve = withReverification(() => fetch('/api/transfer', { method: 'POST' }), {
    client,
    onNeedsReverification: async ({ level, action, complete, cancel }) => {
      const summary: string | undefined = action?.summary;
      const fields: Record<string, string> | undefined = action?.fields;
      // @ts-expect-error the action may be missing
      const always: Action = action;
      use(summary, fields, always);
      const v = await client.startVerification(level, action);
      const done = await client.attemptVerification(v.id, { strategy: 'totp', code: '123456' });
      if ('approval' in done && done.approval) use(done.approval.id, done.approval.digest, done.approval.expires_at);
      if (v.status === 'cancelled') cancel();
      else complete();
    },
  });
  await approve();
  // @ts-expect-error an action has a type and a summary
  await client.startVerification('second_factor', { summary: 'Send €25.00 to Bob' });

  // Idempotency keys: the fetcher gets the key first; the wrapper keeps the other parameters.
  const pay = withReverification(
    (key: string, amount: number) =>
      fetch('/api/pay', { method: 'POST', headers: { 'idempotency-key': key }, body: JSON.stringify({ amount }) }),
    { idempotencyKey: true, level: 'second_factor' },
  );
  expectType<Equal<typeof pay, (amount: number) => Promise<Response>>>(true);
  await pay(2500);
  // @ts-expect-error the key is the wrapper's, not the caller's
  await pay('key', 2500);
  // @ts-expect-error with a key, the fetcher's first parameter is a string
  withReverification((amount: number) => amount, { idempotencyKey: true });
  const keyed: IdempotentReverificationOptions = { idempotencyKey: true, client };
  withReverification((key: string) => key, keyed);
  withReverification(() => 1, { idempotencyKey: false });

  // @ts-expect-error not a level
  withReverification(() => 1, { level: 'strict' });
  const options: ReverificationOptions = {};
  withReverification(() => 1, options);

  // isReverificationError: a Promise for a Response, a boolean for anything else.
  const promised: Promise<boolean> = isReverificationError(res);
  const now: boolean = isReverificationError({ clerk_error: { type: 'forbidden' } });
  // @ts-expect-error a Response's answer is a Promise
  const wrong: boolean = isReverificationError(res);

  // Errors.
  try {
    await transfer(1);
  } catch (e) {
    if (e instanceof ReverifyError) {
      const code: string = e.code;
      const status: number = e.status;
      const wait: number | null = e.retryAfter;
      const name: 'ReverifyError' = e.name;
      use(code, status, wait, name, e.body, e.message);
      if (e.code === REVERIFICATION_CANCELLED && e.code === 'reverification_cancelled') return;
    }
  }
  const err = new ReverifyError('locked', 'Locked', { status: 423, retryAfter: 60, body: null, cause: new Error() });
  new ReverifyError({ code: 'network_error', status: 0 });
  new ReverifyError('invalid_code');
  const asError: Error = err;

  // The default prompt, presets, policies.
  setDefaultPrompt(async ({ level, client }) => use(level, client.session));
  setDefaultPrompt(async ({ level, action, client }: PromptArgs) => use(level, action?.summary, client));
  setDefaultPrompt(null);
  const level: Level = PRESET_LEVELS.strict_mfa;
  const preset: Preset = 'moderate';
  const policies: Policy[] = [preset, 'lax', { level: 'second_factor', afterMinutes: 0.5 }];
  // @ts-expect-error presets are fixed
  const notAPreset: Preset = 'sometimes';
  use(promised, now, wrong, asError, level, policies, notAPreset);
}

export async function passkeys(json: any, credential: PublicKeyCredential): Promise<void> {
  const buffer: ArrayBuffer = fromBase64url('AAEC');
  const text: string = toBase64url(new Uint8Array(buffer));
  const creation: PublicKeyCredentialCreationOptions = parseCreationOptions(json);
  const request: PublicKeyCredentialRequestOptions = parseRequestOptions(json);
  const asJson: object = credentialToJSON(credential);
  const signal = new AbortController().signal;
  await createPasskey({ publicKey: json }, signal);
  await getPasskey(json);
  use(text, creation, request, asJson);
}

export function react(client: ReverifyClient): void {
  // Both forms of the hook.
  const remove = useReverification(() => client.deletePasskey('pk_1'));
  remove().catch((e) => {
    if (e.code !== 'reverification_cancelled') throw e;
  });
  const [transferMoney] = useReverification(() => fetch('/api/transfer', { method: 'POST' }));
  const res: Promise<Response> = transferMoney();
  const transfer = useReverification((amount: number) => fetch(`/api/transfer?amount=${amount}`), {
    level: 'multi_factor',
    onNeedsReverification: ({ complete }) => complete(),
  });
  const [again] = transfer;
  expectType<Equal<typeof again, (amount: number) => Promise<Response>>>(true);
  const pay = useReverification(
    (key: string, amount: number) => fetch('/api/pay', { method: 'POST', headers: { 'idempotency-key': key } }),
    {
      idempotencyKey: true,
      onNeedsReverification: ({ action, complete }) => (use(action?.summary), complete()),
    },
  );
  expectType<Equal<Parameters<typeof pay>, [amount: number]>>(true);
  // @ts-expect-error the hook keeps the fetcher's parameters
  transfer();
  const handle: ReverificationHandle<[number], Promise<Response>> = transfer;
  use(res, handle);
}

export async function ui(client: ReverifyClient): Promise<void> {
  // Elements by tag name are typed through HTMLElementTagNameMap.
  const signIn: SignIn = document.createElement('reverify-sign-in');
  signIn.client = client;
  const signUp: SignUp | null = document.querySelector('reverify-sign-up');
  if (signUp) signUp.client = client;
  const account: Account = document.createElement('reverify-account');
  account.client = undefined;
  const modal: VerificationModal = document.createElement('reverify-verification-modal');
  const answer: unknown = await modal.open({ level: 'second_factor', client });
  await modal.open({});
  await modal.open({ level: 'second_factor', action: { type: 'transfer', summary: 'Send €25.00 to Bob' }, client });
  modal.cancel();
  // @ts-expect-error not a level
  await modal.open({ level: 'strict' });
  const element: HTMLElement = modal;
  // The classes are the elements' constructors.
  const ctor: CustomElementConstructor = SignIn;
  use(new VerificationModal() instanceof HTMLElement, SignUp, Account);

  // Events, on the element or the document.
  signIn.addEventListener('reverify:signed-in', (e) => use(e.detail.status, e.detail.session, e.detail.token));
  signUp?.addEventListener('reverify:signed-up', (e) => use(e.detail.user));
  modal.addEventListener('reverify:complete', (e) => use(e.detail));
  document.addEventListener('reverify:cancel', (e) => use(e.detail));
  const events: (keyof ReverifyUIEvents)[] = ['reverify:complete', 'reverify:cancel'];

  // The default prompt, and the texts.
  await openVerification({ level: 'multi_factor', client });
  await openVerification({
    level: 'second_factor',
    action: { type: 'transfer', summary: 'Send €25.00 to Bob' },
    client,
  });
  setStrings({ cancel: 'Abbrechen', e_locked: 'Gesperrt ({method}, {wait})' });
  const text: string | undefined = strings['cancel'];
  use(answer, element, ctor, events, text);
}
