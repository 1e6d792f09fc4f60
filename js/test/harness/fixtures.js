// Server answers used by the UI tests (shapes from docs/server.md and CONTRACT.md).
export const FIRST = {
  id: 'ver_1',
  object: 'verification',
  level: 'second_factor',
  status: 'needs_first_factor',
  supported_first_factors: [{ strategy: 'password' }, { strategy: 'email_code', safe_identifier: 'a***@example.com' }],
  supported_second_factors: [],
  attempts_left: 5,
  expires_at: 2000000000,
};
export const SECOND = {
  ...FIRST,
  status: 'needs_second_factor',
  supported_second_factors: [{ strategy: 'totp' }, { strategy: 'backup_code' }],
};
export const COMPLETE = {
  verification: { ...SECOND, status: 'complete' },
  session: { id: 'sess_1' },
  reverification: {},
  token: 'jwt.after.verification',
  jwt: 'jwt.after.verification',
  expires_in: 60,
};
export const SIGNED_IN = {
  status: 'complete',
  session: { id: 'sess_1' },
  user: { id: 'user_1', email: 'ada@example.com' },
  token: 'jwt',
};
export const err = (code, status, retryAfter = null) => ({ error: { code, status, retryAfter } });
export const REVERIFY = err('reverification-error', 403);
