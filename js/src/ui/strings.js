// Every text the elements show. Replace any of them with setStrings({ key: 'text' });
// "{name}" is filled in. Values are plain text (they are HTML-escaped when shown).
// Keys starting with "e_" are error messages by the server's error code.
export const strings = {
  verifyTitle: 'Verify it’s you',
  needs_first_factor: 'To continue, please confirm it’s you.',
  needs_second_factor: 'To continue, confirm with your second factor.',
  d_password: 'Enter your password.',
  d_email_code: 'Enter the code we sent to {email}.',
  d_totp: 'Enter the 6-digit code from your authenticator app.',
  d_backup_code: 'Enter one of your backup codes.',
  d_passkey: 'Confirm with your passkey.',
  s_password: 'Use your password',
  s_email_code: 'Email a code to {email}',
  s_totp: 'Use your authenticator app',
  s_backup_code: 'Use a backup code',
  s_passkey: 'Use a passkey',
  other: 'Other ways to verify',
  email: 'Email',
  password: 'Password',
  code: 'Verification code',
  backupCode: 'Backup code',
  continue: 'Continue',
  usePasskey: 'Use passkey',
  cancel: 'Cancel',
  resend: 'Send a new code',
  sent: 'We sent a new code.',
  startOver: 'Start over',
  loading: 'Loading…',
  signIn: 'Sign in',
  emailCode: 'Email me a sign-in code instead',
  sendCode: 'Send code',
  usePassword: 'Sign in with a password instead',
  passkeySignIn: 'Sign in with a passkey',
  checkEmail: 'Check your email',
  codeSentTo: 'We sent a code to {email}.',
  secondTitle: 'Two-step verification',
  signedIn: 'You are signed in.',
  signUp: 'Create your account',
  signUpBtn: 'Create account',
  signedUp: 'Your account is ready.',
  account: 'Your account',
  newPassword: 'New password',
  changePw: 'Change password',
  signOutOthers: 'Sign out my other devices',
  pwChanged: 'Password changed.',
  totpTitle: 'Authenticator app',
  totpOn: 'On: your second factor.',
  totpOff: 'Not set up.',
  setUp: 'Set up',
  totpScan: 'Scan this QR code with your authenticator app, then enter the 6-digit code it shows.',
  qr: 'QR code for your authenticator app',
  secret: 'Or enter this key:',
  confirm: 'Confirm',
  remove: 'Remove',
  totpRemoveQ: 'Remove the authenticator app? Your backup codes stop working too.',
  totpRemoved: 'Authenticator app removed.',
  codesTitle: 'Backup codes',
  codesLeft: '{n} backup codes left.',
  regen: 'Generate new codes',
  regenQ: 'Generate new backup codes? The old ones stop working.',
  codesSave: 'Save these codes somewhere safe. Each works once; they are not shown again.',
  copy: 'Copy',
  copied: 'Copied.',
  saved: 'I saved them',
  pkTitle: 'Passkeys',
  pkNone: 'No passkeys yet.',
  pkName: 'Passkey name',
  pkNameOpt: 'Name for a new passkey (optional)',
  pkAdd: 'Add a passkey',
  pkAdded: 'Passkey added.',
  rename: 'Rename',
  save: 'Save',
  del: 'Delete',
  pkDelQ: 'Delete the passkey “{name}”?',
  yes: 'Yes',
  no: 'No',
  minute: '1 minute',
  minutes: '{n} minutes',
  seconds: '{n} seconds',
  later: 'a little while',
  e_incorrect_password: 'Incorrect password. Please try again.',
  e_invalid_code: 'That code is wrong. Check it and try again.',
  e_code_already_used: 'This code was just used. Wait for the next one in your app.',
  e_invalid_credentials: 'Wrong email or password.',
  e_invalid_code_format: 'Enter the code exactly as shown.',
  e_code_expired: 'This code has expired.',
  e_locked: 'Too many wrong tries: {method} is locked. Try again in {wait}, or use another way.',
  m_: 'this method',
  m_password: 'your password',
  m_email_code: 'the emailed code',
  m_totp: 'the authenticator app',
  m_backup_code: 'the backup code',
  e_too_many_attempts: 'Too many wrong tries. Please start over.',
  e_rate_limited: 'Too many requests. Please try again in {wait}.',
  e_verification_expired: 'This verification has expired. Please start over.',
  e_verification_ended: 'This verification has ended. Please start over.',
  e_sign_in_expired: 'This sign-in has expired. Please start over.',
  e_passkey_rejected: 'This passkey was not accepted.',
  e_user_verification_required: 'Your passkey must check it’s you (PIN or biometrics).',
  e_NotAllowedError: 'The passkey request was cancelled or timed out.',
  e_invalid_email: 'Enter a valid email address.',
  e_password_too_short: 'That password is too short.',
  e_signed_out: 'You are signed out.',
  e_generic: 'Something went wrong. Please try again.',
};

/** Replace some of the strings (merged into the table; shown from the next render on). */
export function setStrings(table) {
  Object.assign(strings, table);
}

const escape = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
export { escape as esc };

const fill = (key, vars = {}) => (strings[key] ?? key).replace(/\{(\w+)\}/g, (_, x) => vars[x] ?? '');

/** The string `key`, with "{x}" filled from `vars`, HTML-escaped. */
export const t = (key, vars) => escape(fill(key, vars));

/** A readable message (HTML-escaped) for an error thrown by the client: a ReverifyError
 * (by its `code`, with the wait from `retryAfter`) or a DOMException from WebAuthn.
 * `method`: the strategy that was tried, named in the lockout message. */
export function errText(e, method = '') {
  const code = e?.code || e?.name;
  const n = e?.retryAfter;
  const m = Math.ceil(n / 60);
  const wait =
    n == null ? strings.later : n < 60 ? fill('seconds', { n }) : m < 2 ? strings.minute : fill('minutes', { n: m });
  if (strings['e_' + code]) return t('e_' + code, { wait, method: strings['m_' + method] || strings.m_ });
  return (e?.status < 500 && e.message && escape(e.message)) || t('e_generic');
}
