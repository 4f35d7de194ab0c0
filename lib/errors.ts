/**
 * Every error code this library produces. Branch on `err.code`, not on `instanceof`: the codes are part of the
 * public API and follow semver.
 */
export type WpsAuthErrorCode =
  | 'invalid_callback'
  | 'state_mismatch'
  | 'access_denied'
  | 'wps_rejected'
  | 'wps_unavailable'
  | 'wps_timeout'
  | 'login_required'
  | 'login_refused'
  | 'misconfigured';

/** The HTTP status that goes with each {@link WpsAuthErrorCode}. */
export const ERROR_STATUS: Readonly<Record<WpsAuthErrorCode, number>> = Object.freeze({
  invalid_callback: 400,
  state_mismatch: 400,
  access_denied: 401,
  wps_rejected: 400,
  wps_unavailable: 502,
  wps_timeout: 504,
  login_required: 401,
  login_refused: 403,
  misconfigured: 500,
});

/**
 * Why a callback's `state` matched no sign-in in progress (`state_mismatch` only):
 * - `'no_pending_login'`: the session holds no sign-in at all — its cookie did not come back with the callback
 *   (another host than `redirectUri`'s, a `secure` cookie over http, `sameSite: 'strict'`, blocked cookies, a lost
 *   session); the message names what it detected;
 * - `'unknown_state'`: never issued to this session, or already used;
 * - `'expired_state'`: issued more than 10 minutes ago;
 * - `'missing_state'`: the callback carries no usable `state`.
 */
export type WpsStateMismatchReason = 'no_pending_login' | 'unknown_state' | 'expired_state' | 'missing_state';

/** Extra facts an error may carry; none of them is ever a secret, a code or a token. */
export interface WpsAuthErrorDetails {
  /** The non-zero `code` WPS answered with, when it answered with one. */
  wpsCode?: number;
  /** The `msg` WPS answered with (e.g. `invalid_grant`), when it answered with one. */
  wpsMsg?: string;
  /** The `error` parameter of a refused authorization (`access_denied` only). */
  error?: string;
  /** The `error_description` parameter of a refused authorization (`access_denied` only). */
  errorDescription?: string;
  /** Why the callback's `state` matched nothing (`state_mismatch` only). */
  reason?: WpsStateMismatchReason;
}

/**
 * The one error type this library passes to `next(err)`. It has a stable `code`, an HTTP `status` (also as
 * `statusCode` and `expose`, the conventions of `http-errors`, so Express's default handler answers with the right
 * status), and never contains the client secret, an authorization code or a token — not in `message`, not in
 * `stack`, not through `JSON.stringify` or `util.inspect`.
 *
 * @example
 * app.use((err, req, res, next) => {
 *   if (err.code === 'login_required') return res.status(401).json({ error: err.code });
 *   next(err);
 * });
 */
export class WpsAuthError extends Error {
  /** Stable machine-readable error code. */
  readonly code: WpsAuthErrorCode;
  /** HTTP status to answer with. */
  readonly status: number;
  /** Same as {@link WpsAuthError.status}, for handlers that read `statusCode`. */
  readonly statusCode: number;
  /** `true` for 4xx errors: their message is safe and useful to show to the user. */
  readonly expose: boolean;
  /** See {@link WpsAuthErrorDetails.wpsCode}. */
  readonly wpsCode?: number;
  /** See {@link WpsAuthErrorDetails.wpsMsg}. */
  readonly wpsMsg?: string;
  /** See {@link WpsAuthErrorDetails.error}. */
  readonly error?: string;
  /** See {@link WpsAuthErrorDetails.errorDescription}. */
  readonly errorDescription?: string;
  /** See {@link WpsAuthErrorDetails.reason}. */
  readonly reason?: WpsStateMismatchReason;

  constructor(code: WpsAuthErrorCode, message: string, details: WpsAuthErrorDetails = {}) {
    super(message);
    this.name = 'WpsAuthError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.statusCode = this.status;
    this.expose = this.status < 500;
    if (details.wpsCode !== undefined) this.wpsCode = details.wpsCode;
    if (details.wpsMsg !== undefined) this.wpsMsg = details.wpsMsg;
    if (details.error !== undefined) this.error = details.error;
    if (details.errorDescription !== undefined) this.errorDescription = details.errorDescription;
    if (details.reason !== undefined) this.reason = details.reason;
  }

  /** The safe, serialisable view of the error (what `JSON.stringify(err)` gives). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      status: this.status,
      message: this.message,
      ...(this.wpsCode !== undefined && { wpsCode: this.wpsCode }),
      ...(this.wpsMsg !== undefined && { wpsMsg: this.wpsMsg }),
      ...(this.error !== undefined && { error: this.error }),
      ...(this.errorDescription !== undefined && { errorDescription: this.errorDescription }),
      ...(this.reason !== undefined && { reason: this.reason }),
    };
  }
}

/** The forms secrets take when a server echoes them back (as given, or as sent in a form body), longest first. */
function echoForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < 4) continue;
    forms.add(s).add(encodeURIComponent(s)).add(new URLSearchParams({ s }).toString().slice(2));
  }
  // Longest first, so a secret that contains another (the client id, say) is removed whole.
  return [...forms].sort((a, b) => b.length - a.length);
}

/**
 * Text that came from outside (WPS or the query string): printable, single-line and bounded, for messages.
 * Every one of `secrets` (4 characters or more) that WPS may have echoed — as sent or form-encoded — is replaced
 * by `[redacted]` before the text is cut, so not even the start of a secret survives the cut.
 */
export function cleanExternalText(value: unknown, max = 200, secrets: readonly string[] = []): string | undefined {
  if (typeof value !== 'string') return undefined;
  let text = value;
  for (const form of echoForms(secrets)) text = text.split(form).join('[redacted]');
  // eslint-disable-next-line no-control-regex
  text = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
