/**
 * The library's one error family. Every error it hands to an app is a {@link WpsError}: a stable `code`, an HTTP
 * `status` (also as `statusCode`, and `expose`, the conventions of `http-errors`, so Express's default handler
 * answers with the right status), and never a secret — not the client secret, an authorization code, a ticket or a
 * token — in `message`, `stack`, `JSON.stringify(err)` or `util.inspect(err)`. Branch on `err.code`; the
 * subclasses say which part of the library failed.
 */
export class WpsError<Code extends string = string> extends Error {
  /** Stable machine-readable error code: part of the public API, follows semver. */
  readonly code: Code;
  /** HTTP status to answer with. */
  readonly status: number;
  /** Same as {@link WpsError.status}, for handlers that read `statusCode`. */
  readonly statusCode: number;
  /** `true` for 4xx errors: their message is safe and useful to show to the user. */
  readonly expose: boolean;

  constructor(code: Code, status: number, message: string) {
    super(message);
    this.name = 'WpsError';
    this.code = code;
    this.status = status;
    this.statusCode = status;
    this.expose = status < 500;
  }

  /** The safe, serialisable view of the error (what `JSON.stringify(err)` gives). */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, status: this.status, message: this.message };
  }
}

/**
 * Every code a {@link WpsAuthError} carries. Branch on `err.code`, not on `instanceof`: the codes are part of the
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
  | 'store_unavailable'
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
  store_unavailable: 503,
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
 * What `wpsAuth`, `requireWpsToken`, `req.wps` and the token requests of the app client pass to `next(err)` or
 * reject with: sign-in, refresh and configuration failures.
 *
 * @example
 * import type { ErrorRequestHandler } from 'express';
 * import { WpsError } from 'express-wps-oauth';
 *
 * const onError: ErrorRequestHandler = (err, _req, res, next) => {
 *   if (!(err instanceof WpsError)) return next(err);
 *   if (err.code === 'login_required') return res.status(401).json({ error: err.code });
 *   res.status(err.status).json({ error: err.code });
 * };
 */
export class WpsAuthError extends WpsError<WpsAuthErrorCode> {
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
    super(code, ERROR_STATUS[code], message);
    this.name = 'WpsAuthError';
    if (details.wpsCode !== undefined) this.wpsCode = details.wpsCode;
    if (details.wpsMsg !== undefined) this.wpsMsg = details.wpsMsg;
    if (details.error !== undefined) this.error = details.error;
    if (details.errorDescription !== undefined) this.errorDescription = details.errorDescription;
    if (details.reason !== undefined) this.reason = details.reason;
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      ...(this.wpsCode !== undefined && { wpsCode: this.wpsCode }),
      ...(this.wpsMsg !== undefined && { wpsMsg: this.wpsMsg }),
      ...(this.error !== undefined && { error: this.error }),
      ...(this.errorDescription !== undefined && { errorDescription: this.errorDescription }),
      ...(this.reason !== undefined && { reason: this.reason }),
    };
  }
}

/**
 * Why a call through `req.wps.api` (or a `createWpsAppClient().api`) failed. Branch on `err.code`.
 * - `'wps_api_error'`: WPS answered with a failure — a non-2xx status, or a `{ code, msg }` envelope whose `code`
 *   is not 0 (`wpsStatus`, `wpsCode` and `wpsMsg` say which).
 * - `'wps_timeout'`: WPS did not answer within `timeoutMs`.
 * - `'wps_unavailable'`: WPS could not be reached, or answered with something unusable (a body over
 *   `maxResponseBytes`, or a malformed answer).
 */
export type WpsApiErrorCode = 'wps_api_error' | 'wps_timeout' | 'wps_unavailable';

/** The HTTP status to answer with for each {@link WpsApiErrorCode}: WPS failed us, so a gateway error. */
const API_ERROR_STATUS: Readonly<Record<WpsApiErrorCode, number>> = Object.freeze({
  wps_api_error: 502,
  wps_unavailable: 502,
  wps_timeout: 504,
});

/** What a {@link WpsApiError} says about the failed call; never a token, a header or a request body. */
export interface WpsApiErrorDetails {
  /** HTTP method, upper case. */
  method: string;
  /** Path of the request, without the query string (which may carry the app's data). */
  path: string;
  /** The HTTP status WPS answered with; absent when it did not answer. */
  wpsStatus?: number;
  /** The non-zero `code` of WPS's envelope, when there was one. */
  wpsCode?: number;
  /** The `msg` of WPS's envelope, when there was one. */
  wpsMsg?: string;
}

/**
 * The error every failed call through `req.wps.api` rejects with (besides the `WpsAuthError` of
 * `getAccessToken()`, e.g. `login_required`). It never holds the access token, the `Authorization` header or the
 * axios request. Its `status` is 502 (`wps_api_error`, `wps_unavailable`) or 504 (`wps_timeout`) — WPS failed, not
 * the browser; WPS's own status is {@link WpsApiError.wpsStatus}.
 *
 * @example
 * import type { Request } from 'express';
 * import { WpsApiError } from 'express-wps-oauth';
 *
 * async function scopeGranted(req: Request): Promise<boolean> {
 *   try {
 *     await req.wps.api.get('/v7/users/current');
 *     return true;
 *   } catch (err) {
 *     if (err instanceof WpsApiError && err.wpsCode === 40000005) return false;
 *     throw err;
 *   }
 * }
 */
export class WpsApiError extends WpsError<WpsApiErrorCode> {
  /** See {@link WpsApiErrorDetails.wpsStatus}. */
  readonly wpsStatus?: number;
  /** See {@link WpsApiErrorDetails.wpsCode}. */
  readonly wpsCode?: number;
  /** See {@link WpsApiErrorDetails.wpsMsg}. */
  readonly wpsMsg?: string;
  /** See {@link WpsApiErrorDetails.method}. */
  readonly method: string;
  /** See {@link WpsApiErrorDetails.path}. */
  readonly path: string;

  constructor(code: WpsApiErrorCode, message: string, details: WpsApiErrorDetails) {
    super(code, API_ERROR_STATUS[code], message);
    this.name = 'WpsApiError';
    this.method = details.method;
    this.path = details.path;
    if (details.wpsStatus !== undefined) this.wpsStatus = details.wpsStatus;
    if (details.wpsCode !== undefined) this.wpsCode = details.wpsCode;
    if (details.wpsMsg !== undefined) this.wpsMsg = details.wpsMsg;
  }

  override toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      method: this.method,
      path: this.path,
      status: this.status,
      ...(this.wpsStatus !== undefined && { wpsStatus: this.wpsStatus }),
      ...(this.wpsCode !== undefined && { wpsCode: this.wpsCode }),
      ...(this.wpsMsg !== undefined && { wpsMsg: this.wpsMsg }),
    };
  }
}

/**
 * Why a pushed event was refused, as `verifyWpsEvent` throws it and `wpsEvents` answers it:
 * - `'invalid_signature'` (401): the signature is not this app's (wrong APPID or APPKEY, or a forgery);
 * - `'stale_event'` (401): its `time` is further than `maxAgeSeconds` from now (a replay, or a wrong clock);
 * - `'invalid_event'` (400): not an event at all — not JSON, a field missing or malformed, data that does not
 *   decrypt.
 */
export type WpsEventErrorCode = 'invalid_signature' | 'stale_event' | 'invalid_event';

const EVENT_ERROR_STATUS: Readonly<Record<WpsEventErrorCode, number>> = Object.freeze({
  invalid_signature: 401,
  stale_event: 401,
  invalid_event: 400,
});

/**
 * A pushed event that was refused before any handler ran. Its message says why in a few words (never the APPKEY,
 * the signature or the event's data).
 */
export class WpsEventError extends WpsError<WpsEventErrorCode> {
  constructor(code: WpsEventErrorCode, message: string) {
    super(code, EVENT_ERROR_STATUS[code], message);
    this.name = 'WpsEventError';
  }
}

/**
 * Why a call for a customer company (`tenants.client(id)`, `req.wps.tenant`) failed before reaching WPS:
 * - `'ticket_unavailable'` (503): no app_ticket arrived within `ticketWaitMs` (WPS pushes it to the app's event URL
 *   as `kso.app.ticket`); the message says to subscribe the event URL to that topic;
 * - `'tenant_not_installed'` (403): the company uninstalled or disabled the app (by the last
 *   `kso.developer.application.authorization.status` event), so WPS was not called.
 */
export type WpsTenantErrorCode = 'ticket_unavailable' | 'tenant_not_installed';

const TENANT_ERROR_STATUS: Readonly<Record<WpsTenantErrorCode, number>> = Object.freeze({
  ticket_unavailable: 503,
  tenant_not_installed: 403,
});

/**
 * What a marketplace (ISV) app's company client rejects with when it cannot get a tenant token without WPS's help:
 * no app ticket, or a company that removed the app. Other failures of the tenant token request are `WpsAuthError`s
 * (`wps_rejected`, `wps_unavailable`, `wps_timeout`), and of the API calls `WpsApiError`s. Never holds a ticket or
 * a token.
 *
 * @example
 * import { WpsTenantError, type WpsTenants } from 'express-wps-oauth';
 *
 * // The company's token, or undefined when the company removed the app.
 * async function tokenOf(tenants: WpsTenants, companyId: string): Promise<string | undefined> {
 *   try {
 *     return await tenants.client(companyId).getTenantAccessToken();
 *   } catch (err) {
 *     if (err instanceof WpsTenantError && err.code === 'tenant_not_installed') return undefined;
 *     throw err;
 *   }
 * }
 */
export class WpsTenantError extends WpsError<WpsTenantErrorCode> {
  /** The company the call was for, when there was one (a ticket is not any company's). */
  readonly companyId?: string;

  constructor(code: WpsTenantErrorCode, message: string, companyId?: string) {
    super(code, TENANT_ERROR_STATUS[code], message);
    this.name = 'WpsTenantError';
    if (companyId !== undefined) this.companyId = companyId;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), ...(this.companyId !== undefined && { companyId: this.companyId }) };
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

/**
 * Thrown by a helper whose shared service (Redis) cannot be used right now, with a message safe to log: no key
 * (a session id), no URL, no credential. Each helper throws its own subclass.
 */
export class ServiceUnavailableError extends Error {}

/**
 * A failure as a log line may show it: the message of a {@link ServiceUnavailableError} (safe by construction),
 * else only the error's name and its `code` (such as `ECONNREFUSED`) — other messages may quote a request, a key
 * or a URL.
 */
export function reasonOf(err: unknown): string {
  if (err instanceof ServiceUnavailableError) return err.message;
  const name = err instanceof Error ? err.name : typeof err;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,39}$/.test(code) ? `${name} ${code}` : name;
}
