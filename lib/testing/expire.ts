import type { Request } from 'express';
import { setStoredTokens, storedTokensOf } from '../session/record';
import { codecOfStore } from '../session/token-codec';

/**
 * Make the access token of this request's session look expired, as time would leave it, so the next
 * `requireWpsToken()` or `req.wps.getAccessToken()` refreshes it through the real path (single-flight, lock, the
 * call to WPS, the save). For demo routes and tests — never mount a route that calls it in production. The change
 * is saved with the session at the end of the request, like any session change. Returns `false` when the session
 * holds no tokens.
 *
 * @example
 * import express from 'express';
 * import { expireAccessToken } from 'express-wps-oauth/testing';
 *
 * const app = express();
 * app.post('/test/expire', (req, res) => res.json({ expired: expireAccessToken(req) }));
 */
export function expireAccessToken(req: Request): boolean {
  if (req.session === undefined) return false;
  const codec = codecOfStore(req.sessionStore);
  const tokens = codec.open(storedTokensOf(req.session), req.sessionID);
  if (tokens === undefined) return false;
  // A second ago on this process's clock: a test clock given to wpsAuth() runs ahead of it, never behind.
  const expiresAt = Math.min(tokens.expiresAt, Date.now() - 1000);
  setStoredTokens(req.session, codec.close({ ...tokens, expiresAt }, req.sessionID));
  return true;
}
