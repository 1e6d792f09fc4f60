// Every text the elements show. Replace any of them with setStrings({ key: 'text' }) — for a
// translation, replace them all. "{name}" is filled in. Values are plain text (they are
// HTML-escaped when shown). Keys starting with "e_" are error messages by the server's error
// code; "m_" name a method inside the lockout message; "s_" offer a method; "d_" ask for it.
export const strings = {
  // The verification modal
  verifyTitle: 'Verify it’s you',
  verifyLead: 'Confirm it’s you to continue.',
  approveTitle: 'Approve this action',
  approve: 'Approve: {summary}',
  approveLead: 'Confirming approves this action only, once.',
  d_password: 'Enter your password.',
  d_email_code: 'Enter the 6-digit code we sent to {email}.',
  d_totp: 'Enter the 6-digit code from your authenticator app.',
  d_backup_code: 'Enter one of your backup codes.',
  d_passkey: 'Use a passkey on this device or your phone.',
  s_password: 'Use your password',
  s_email_code: 'Email a code to {email}',
  s_totp: 'Use your authenticator app',
  s_backup_code: 'Use a backup code',
  s_passkey: 'Use a passkey',
  other: 'Other ways to confirm',
  allLocked: 'Too many wrong tries: every way to confirm is paused. Try again in {wait}.',
  email: 'Email address',
  password: 'Password',
  code: 'Verification code',
  backupCode: 'Backup code',
  continue: 'Continue',
  usePasskey: 'Continue with passkey',
  cancel: 'Cancel',
  close: 'Close',
  resend: 'Send a new code',
  sent: 'New code sent.',
  startOver: 'Start again',
  loading: 'Loading…',
  required: 'Fill this in.',
  // Sign-in and sign-up
  signIn: 'Sign in',
  emailCode: 'Email me a code instead',
  sendCode: 'Email me a code',
  usePassword: 'Use a password instead',
  passkeySignIn: 'Sign in with a passkey',
  checkEmail: 'Check your email',
  codeSentTo: 'Enter the 6-digit code we sent to {email}. It expires in 10 minutes.',
  secondTitle: 'Confirm it’s you',
  signedInAs: 'You’re signed in as {email}.',
  signOut: 'Sign out',
  signUp: 'Create your account',
  signUpBtn: 'Create account',
  pwRule: 'At least {n} characters.',
  // The account
  account: 'Your account',
  signedOutHere: 'You’re signed out.',
  newPassword: 'New password',
  changePw: 'Change password',
  signOutOthers: 'Also sign out of my other devices',
  pwChanged: 'Your password was changed.',
  twoStep: 'Two-step verification',
  totpTitle: 'Authenticator app',
  totpOn: 'On: sign-in also asks for a code from your app.',
  totpOff: 'Ask for a code from an authenticator app when you sign in.',
  setUp: 'Set up',
  totpScan: 'Scan this QR code with your authenticator app, then enter the code.',
  qr: 'QR code for your authenticator app',
  secret: 'Can’t scan it? Enter this key:',
  confirm: 'Confirm',
  remove: 'Remove',
  totpRemoveQ: 'Remove the authenticator app? Your backup codes stop working too.',
  totpRemoved: 'The authenticator app was removed.',
  codesTitle: 'Backup codes',
  codesLeft: '{n} backup codes left, for when you lose your phone.',
  regen: 'Get new codes',
  regenQ: 'Get new backup codes? The old ones stop working.',
  codesSave: 'Save these codes somewhere safe. Each works once and won’t be shown again.',
  copy: 'Copy',
  copied: 'Copied.',
  saved: 'I saved them',
  pkTitle: 'Passkeys',
  pkLead: 'Sign in with your fingerprint, face or screen lock.',
  pkNone: 'No passkeys yet.',
  pkName: 'Passkey name',
  pkNameOpt: 'Name for the new passkey (optional)',
  pkAdd: 'Add a passkey',
  pkAdded: 'Passkey added.',
  pkUsed: 'Last used {when}',
  pkNeverUsed: 'Never used',
  rename: 'Rename',
  save: 'Save',
  del: 'Delete',
  pkDelQ: 'Delete the passkey “{name}”?',
  devices: 'Devices',
  devicesLead: 'Where you’re signed in.',
  thisDevice: 'This device',
  activeWhen: 'Active {when}',
  signOutDevice: 'Sign out',
  signOutDeviceQ: 'Sign out of {device}?',
  signOutAll: 'Sign out of all other devices',
  signOutAllQ: 'Sign out of all other devices?',
  deviceSignedOut: 'Signed out of {device}.',
  allSignedOut: 'Signed out of your other devices.',
  unknownDevice: 'Unknown device',
  browserOn: '{browser} on {os}',
  danger: 'Delete account',
  dangerLead: 'Deletes your account and its data for good.',
  deleteBtn: 'Delete my account',
  deleteQ: 'Delete your account for good?',
  yes: 'Yes',
  no: 'No',
  justNow: 'just now',
  minute: '1 minute',
  minutes: '{n} minutes',
  seconds: '{n} seconds',
  later: 'a while',
  // Errors, by the server's code
  e_incorrect_password: 'Wrong password. Try again.',
  e_invalid_code: 'Wrong code. Check it and try again.',
  e_code_already_used: 'This code was just used. Wait for the next one in your app.',
  e_invalid_credentials: 'Wrong email address or password.',
  e_invalid_code_format: 'Enter the code as shown.',
  e_code_expired: 'This code expired. Ask for a new one.',
  e_locked: 'Too many wrong tries: {method} is paused. Try again in {wait}, or use another way.',
  m_: 'this way to confirm',
  m_password: 'your password',
  m_email_code: 'the emailed code',
  m_totp: 'your authenticator app',
  m_backup_code: 'backup codes',
  e_too_many_attempts: 'Too many wrong tries. Start again.',
  e_rate_limited: 'Too many requests. Try again in {wait}.',
  e_verification_expired: 'This took too long. Start again.',
  e_verification_ended: 'This confirmation ended. Start again.',
  e_sign_in_expired: 'This took too long. Start again.',
  e_passkey_rejected: 'This passkey wasn’t accepted.',
  e_user_verification_required: 'Your passkey must check your fingerprint, face or screen lock.',
  e_NotAllowedError: 'The passkey was cancelled or timed out.',
  e_invalid_email: 'Enter a valid email address.',
  e_email_taken: 'This email address already has an account. Sign in instead.',
  e_password_too_short: 'Use at least {n} characters.',
  e_password_too_long: 'That password is too long.',
  e_signed_out: 'You’re signed out. Sign in again.',
  e_network_error: 'Can’t reach the server. Check your connection and try again.',
  e_generic: 'Something went wrong. Try again.',
};

/** Replace some of the strings (merged into the table; shown from the next render on). */
export function setStrings(table) {
  Object.assign(strings, table);
}

const escape = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
export { escape as esc };

const own = (k) => (Object.hasOwn(strings, k) ? strings[k] : undefined);
/** The string `key` (plain text), with "{x}" filled from `vars`. */
export const fill = (key, vars = {}) => (own(key) ?? key).replace(/\{(\w+)\}/g, (_, x) => vars[x] ?? '');

/** The string `key`, with "{x}" filled from `vars`, HTML-escaped. */
export const t = (key, vars) => escape(fill(key, vars));

/** "3 minutes", "1 minute", "40 seconds" for a number of seconds (null: "a little while"). */
export function wait(n) {
  if (n == null) return own('later');
  const m = Math.ceil(n / 60);
  return n < 60 ? fill('seconds', { n }) : m < 2 ? own('minute') : fill('minutes', { n: m });
}

/** A readable message (HTML-escaped) for an error thrown by the client: a ReverifyError
 * (by its `code`, with the wait from `retryAfter`) or a DOMException from WebAuthn.
 * `vars.method`: the strategy that was tried, named in the lockout message. */
export function errText(e, vars = {}) {
  const code = e?.code || e?.name;
  const method = own('m_' + vars.method) || own('m_');
  if (own('e_' + code) != null) return t('e_' + code, { ...vars, wait: wait(e?.retryAfter), method });
  return (e?.status >= 400 && e?.status < 500 && e.message && escape(e.message)) || t('e_generic');
}
