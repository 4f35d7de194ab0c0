import type { WpsAuthErrorCode, WpsAuthOptions } from '../../../lib';
import type { FakeFault } from '../../../lib/testing';

/** How a failing WPS must surface: the error's code, HTTP status and exact message. */
export interface Expected {
  code: WpsAuthErrorCode;
  status: number;
  message: string;
}

/** One way WPS can fail, and what the library must make of it for the code exchange and for refresh. */
export interface FaultCase {
  /** Name used in test titles and in the README table. */
  name: string;
  fault: FakeFault;
  /** Extra `wpsAuth` options the case needs (a short `timeoutMs` for hangs). */
  options: WpsAuthOptions;
  exchange: Expected;
  refresh: Expected;
  /** What a failed refresh does to the stored tokens: transient failures keep them, rejections remove them. */
  tokensAfterRefresh: 'kept' | 'removed';
}

/** `timeoutMs` of the cases that wait for a timeout: short, so the matrix stays fast. */
export const SHORT_TIMEOUT_MS = 200;

const unavailable = (what: 'code exchange' | 'token refresh', detail: string): Expected => ({
  code: 'wps_unavailable',
  status: 502,
  message: `WPS ${detail.replace('{what}', what)}`,
});

const rejected = (
  exchange: string,
  refresh: string,
): Pick<FaultCase, 'exchange' | 'refresh' | 'tokensAfterRefresh'> => ({
  exchange: { code: 'wps_rejected', status: 400, message: `WPS rejected the code exchange: ${exchange}` },
  refresh: {
    code: 'login_required',
    status: 401,
    message: `Sign in with WPS again: WPS rejected the token refresh: ${refresh}`,
  },
  tokensAfterRefresh: 'removed',
});

function transient(detail: string): Pick<FaultCase, 'exchange' | 'refresh' | 'tokensAfterRefresh'> {
  return {
    exchange: unavailable('code exchange', detail),
    refresh: unavailable('token refresh', detail),
    tokensAfterRefresh: 'kept',
  };
}

function timeout(): Pick<FaultCase, 'exchange' | 'refresh' | 'tokensAfterRefresh'> {
  const msg = (what: string) => `WPS did not answer the ${what} within ${SHORT_TIMEOUT_MS} ms`;
  return {
    exchange: { code: 'wps_timeout', status: 504, message: msg('code exchange') },
    refresh: { code: 'wps_timeout', status: 504, message: msg('token refresh') },
    tokensAfterRefresh: 'kept',
  };
}

/** Every failure of the list, in its order. */
export const FAULTS: readonly FaultCase[] = [
  {
    name: '500 with an HTML body',
    fault: { status: 500, body: '<html><body><h1>Internal Server Error</h1></body></html>', contentType: 'text/html' },
    options: {},
    ...transient('answered the {what} with HTTP 500'),
  },
  {
    name: '502 Bad Gateway',
    fault: { status: 502, body: 'Bad Gateway', contentType: 'text/plain' },
    options: {},
    ...transient('answered the {what} with HTTP 502'),
  },
  {
    name: '200 with {code: 40000001, msg}',
    fault: { status: 200, body: { code: 40000001, msg: 'invalid_request', debug: { desc: 'redirect_uri mismatch' } } },
    options: {},
    ...rejected('invalid_request (HTTP 200, code 40000001)', 'invalid_request (HTTP 200, code 40000001)'),
  },
  {
    name: 'invalid_grant (400, code 40000003)',
    fault: { status: 400, body: { code: 40000003, msg: 'invalid_grant' } },
    options: {},
    ...rejected('invalid_grant (HTTP 400, code 40000003)', 'invalid_grant (HTTP 400, code 40000003)'),
  },
  {
    name: 'malformed JSON',
    fault: { malformedJson: true },
    options: {},
    ...transient('answered the {what} with a malformed body (HTTP 200): not a JSON object'),
  },
  {
    name: 'JSON without access_token',
    fault: { status: 200, body: { expires_in: 7200, token_type: 'bearer' } },
    options: {},
    ...rejected('no access_token in the answer (HTTP 200)', 'no access_token in the answer (HTTP 200)'),
  },
  {
    name: 'expires_in not a number',
    fault: {
      status: 200,
      body: { access_token: 'fake_at_not_stored', expires_in: 'two hours', refresh_token: 'kso_rt_not_stored' },
    },
    options: {},
    ...transient('answered the {what} with a malformed body (HTTP 200): expires_in is not a positive number'),
  },
  {
    name: 'a 5 MB body',
    fault: { bodyBytes: 5 * 1024 * 1024 },
    options: {},
    ...transient('answered the {what} with a body over 1048576 bytes (maxResponseBytes); it was refused'),
  },
  {
    name: `a hang past timeoutMs (${SHORT_TIMEOUT_MS} ms)`,
    fault: { hang: true },
    options: { timeoutMs: SHORT_TIMEOUT_MS },
    ...timeout(),
  },
  {
    name: 'a reset connection',
    fault: { reset: true },
    options: {},
    ...transient('could not be reached for the {what} (ECONNRESET)'),
  },
  {
    name: `a slow drip (1 byte / 5 ms) past timeoutMs (${SHORT_TIMEOUT_MS} ms)`,
    fault: { drip: { bytes: 100_000, intervalMs: 5 } },
    options: { timeoutMs: SHORT_TIMEOUT_MS },
    ...timeout(),
  },
];
