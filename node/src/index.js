// @reverify/server: Reverify's server SDK in JavaScript. Zero dependencies.
export {
  LEVELS,
  PRESETS,
  PolicyError,
  parsePolicy,
  isValidPolicy,
  policyLevel,
  policyAfterMinutes,
  policyMaxAge,
  describePolicy,
} from './policy.js';
export { has, nowSeconds } from './decision.js';
export {
  REVERIFICATION_ERROR_CODE,
  INSUFFICIENT_USER_AUTHENTICATION,
  reverificationError,
  reverificationErrorResponse,
  stepUpChallenge,
} from './errors.js';
export { TokenError, createVerifier } from './verify.js';
export {
  CROSS_SITE_REQUEST,
  CrossSiteRequestError,
  SESSION_COOKIE,
  authErrorResponse,
  authObject,
  authenticateRequest,
  fromAllowedOrigin,
  normalizeOrigin,
  tokenFromHeaders,
} from './auth.js';
