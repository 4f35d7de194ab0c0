import type { Request } from 'express';
import type { ResolvedConfig } from '../config';
import { WpsAuthError, type WpsStateMismatchReason } from '../errors';

/** The session cookie's settings as express-session keeps them on `req.session.cookie`. */
interface CookieSettings {
  secure?: boolean | 'auto' | undefined;
  sameSite?: boolean | 'lax' | 'strict' | 'none' | undefined;
}

/** The host name `redirectUri` points at: cookies are per host name (whatever the port), so that is what counts. */
function redirectHostname(config: ResolvedConfig): string {
  return new URL(config.redirectUri).hostname;
}

/**
 * What keeps this request's session cookie from coming back with the WPS callback, as far as this request shows:
 * a host other than `redirectUri`'s (cookies are per host name: `localhost` and `127.0.0.1` share none), a `secure`
 * cookie over plain http (express-session then sets no cookie at all), `sameSite: 'strict'` (not sent on the
 * redirect back from WPS, a cross-site navigation). Empty when nothing shows.
 */
export function cookieProblems(req: Request, config: ResolvedConfig): string[] {
  const problems: string[] = [];
  const expected = redirectHostname(config);
  const here = req.hostname;
  if (typeof here === 'string' && here !== '' && here.toLowerCase() !== expected.toLowerCase()) {
    problems.push(
      `this request came to host "${here}" but redirectUri is on "${expected}" — cookies set on one are never sent ` +
        `to the other: open the app at ${new URL(config.redirectUri).origin}`,
    );
  }
  const cookie = (req.session?.cookie ?? {}) as CookieSettings;
  if (cookie.sameSite === true || cookie.sameSite === 'strict') {
    problems.push(
      "the session cookie has sameSite: 'strict', which browsers do not send on the redirect back from WPS: use 'lax'",
    );
  }
  if (cookie.secure === true && !req.secure) {
    problems.push(
      'the session cookie is secure but this request came over plain http, so express-session sets no cookie ' +
        "(behind a TLS proxy: app.set('trust proxy', 1); in local development: secure: 'auto')",
    );
  }
  return problems;
}

/** The `state_mismatch` error for a callback whose state matched no sign-in in progress, saying why. */
export function stateMismatch(
  req: Request,
  config: ResolvedConfig,
  reason: WpsStateMismatchReason,
  otherLogins: number,
): WpsAuthError {
  let message: string;
  switch (reason) {
    case 'missing_state':
      message = 'The WPS callback carries no usable state (missing, repeated or malformed): start the sign-in again';
      break;
    case 'expired_state':
      message = 'The sign-in took longer than 10 minutes and its state expired: start the sign-in again';
      break;
    case 'unknown_state':
      message =
        `The sign-in state is unknown to this session or was already used (it has ${otherLogins} other ` +
        `sign-in${otherLogins === 1 ? '' : 's'} in progress): start the sign-in again`;
      break;
    case 'no_pending_login': {
      const found = cookieProblems(req, config);
      const expected = redirectHostname(config);
      // Name the hosts only when they differ: the same host twice says nothing.
      const hosts =
        req.hostname.toLowerCase() === expected.toLowerCase()
          ? ''
          : ` (callback host "${req.hostname}", redirectUri host "${expected}")`;
      message =
        `The session cookie did not come back with the WPS callback${hosts}: this session has no sign-in in ` +
        'progress. ' +
        (found.length > 0
          ? `Found: ${found.join('; ')}.`
          : 'Usual causes: the sign-in started on another host than redirectUri (localhost vs 127.0.0.1), a secure ' +
            "cookie over plain http, sameSite: 'strict', the browser blocking cookies, or the session expired or " +
            'was lost by the session store.');
      break;
    }
  }
  return new WpsAuthError('state_mismatch', message, { reason });
}
