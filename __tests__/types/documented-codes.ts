/**
 * The error codes the README documents, in one place for the type test (`errors.types.ts`) and its runtime twin
 * (`runtime.test.ts`). Adding or removing a code is an API change: this list, the README and the CHANGELOG move
 * together.
 */
export const DOCUMENTED_ERROR_CODES = [
  'invalid_callback',
  'state_mismatch',
  'access_denied',
  'wps_rejected',
  'wps_unavailable',
  'wps_timeout',
  'login_required',
  'login_refused',
  'store_unavailable',
  'misconfigured',
] as const;

/** One documented error code. */
export type DocumentedErrorCode = (typeof DOCUMENTED_ERROR_CODES)[number];
