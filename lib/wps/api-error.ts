/**
 * Why a call through `req.wps.api` (or a `createWpsAppClient().api`) failed. Branch on `err.code`.
 * - `'wps_api_error'`: WPS answered with a failure — a non-2xx status, or a `{ code, msg }` envelope whose `code`
 *   is not 0 (`status`, `wpsCode` and `wpsMsg` say which).
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
 * axios request: `message`, `stack`, `JSON.stringify(err)` and `util.inspect(err)` are safe to log.
 *
 * @example
 * try {
 *   await req.wps.api.get('/v7/users/current');
 * } catch (err) {
 *   if (err instanceof WpsApiError && err.wpsCode === 40000005) return res.status(403).send('Scope not granted');
 *   throw err;
 * }
 */
export class WpsApiError extends Error {
  /** Stable machine-readable error code. */
  readonly code: WpsApiErrorCode;
  /**
   * HTTP status to answer with: 502 (`wps_api_error`, `wps_unavailable`) or 504 (`wps_timeout`) — WPS failed, not
   * the browser. WPS's own status is {@link WpsApiError.wpsStatus}.
   */
  readonly status: number;
  /** Same as {@link WpsApiError.status}, for handlers that read `statusCode`. */
  readonly statusCode: number;
  /** Always `false`: the message is about WPS, not for the user. */
  readonly expose = false;
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
    super(message);
    this.name = 'WpsApiError';
    this.code = code;
    this.method = details.method;
    this.path = details.path;
    this.status = API_ERROR_STATUS[code];
    this.statusCode = this.status;
    if (details.wpsStatus !== undefined) this.wpsStatus = details.wpsStatus;
    if (details.wpsCode !== undefined) this.wpsCode = details.wpsCode;
    if (details.wpsMsg !== undefined) this.wpsMsg = details.wpsMsg;
  }

  /** The safe, serialisable view of the error (what `JSON.stringify(err)` gives). */
  toJSON(): Record<string, unknown> {
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
