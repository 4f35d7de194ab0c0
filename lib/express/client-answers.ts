import type { Response } from 'express';

/** One answer of the client sign-in route to a request it refuses: status, `error` and a message (never a secret). */
export interface ClientRefusal {
  status: number;
  error: 'forbidden_origin' | 'invalid_request' | 'too_large' | 'method_not_allowed';
  message: string;
}

/** The largest body the route reads: a code (512 characters at most) and a `returnTo` fit many times over. */
export const MAX_BODY_BYTES = 4096;
/** The longest code accepted: WPS's look like `kso_ac_<x>.<y>`, about 50 characters. */
export const MAX_CODE_CHARS = 512;

/** Every refusal, by name. */
export const REFUSALS = {
  forbiddenOrigin: {
    status: 403,
    error: 'forbidden_origin',
    message:
      "This route takes codes only from the pages of this app's origins (redirectUri's and trustedOrigins): the " +
      'Origin header names another origin, or none',
  },
  notJson: {
    status: 400,
    error: 'invalid_request',
    message: 'The body must be JSON sent with Content-Type: application/json: {"code": "…", "returnTo": "/path"}',
  },
  notObject: {
    status: 400,
    error: 'invalid_request',
    message: 'The body must be a JSON object: {"code": "…", "returnTo": "/path"}',
  },
  badCode: {
    status: 400,
    error: 'invalid_request',
    message: `code must be the bridge's code: a non-empty string of printable ASCII, at most ${MAX_CODE_CHARS} characters`,
  },
  tooLarge: { status: 413, error: 'too_large', message: `The body is over ${MAX_BODY_BYTES} bytes` },
  methodNotAllowed: {
    status: 405,
    error: 'method_not_allowed',
    message: 'POST a code from the WPS client to sign in; GET says whether this session is signed in',
  },
  scriptMethod: { status: 405, error: 'method_not_allowed', message: 'The client sign-in script is read with GET' },
} as const satisfies Record<string, ClientRefusal>;

/** Headers on every answer of the route: nothing cached, nothing sniffed. */
const ALWAYS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

/**
 * Answer with `status` and the JSON `body` (none for `HEAD`), plus `headers`; `Vary: Origin`, since the CORS headers
 * depend on it. Nothing when an answer went out already or the client is gone.
 */
export function sendAnswer(res: Response, status: number, body: object, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.status(status).set({ ...ALWAYS, ...headers });
  res.vary('Origin');
  res.json(body);
}
