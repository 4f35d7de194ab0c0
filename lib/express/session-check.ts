import type { Request } from 'express';
import { WpsAuthError } from '../errors';

const NO_SESSION =
  'express-wps-oauth: req.session is missing. Mount express-session before wpsAuth(): ' +
  'app.use(session({ secret, resave: false, saveUninitialized: false })); app.use(wpsAuth({ ... }))';

const NOT_EXPRESS_SESSION =
  'express-wps-oauth: req.session has no regenerate() and save(): wpsAuth() needs express-session (or a session ' +
  'middleware with its API over a server-side store), mounted before it. Cookie-only sessions such as ' +
  'cookie-session cannot work: WPS rotates the refresh token at every refresh, and only a server-side store lets ' +
  'one refresh win while other requests wait for it; in a cookie the tokens would also travel to the browser. ' +
  'Use app.use(session({ secret, resave: false, saveUninitialized: false, store })) from express-session.';

/** Why `req.session` cannot hold a sign-in (missing, or not express-session's), before anything is written to it. */
export function sessionProblem(req: Request): WpsAuthError | undefined {
  const session = req.session as Partial<Record<'regenerate' | 'save', unknown>> | undefined;
  if (session === undefined) return new WpsAuthError('misconfigured', NO_SESSION);
  if (typeof session.regenerate !== 'function' || typeof session.save !== 'function') {
    return new WpsAuthError('misconfigured', NOT_EXPRESS_SESSION);
  }
  return undefined;
}
