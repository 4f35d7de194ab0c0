import type { Request } from 'express';
import { systemClock } from '../clock';
import type { WpsRequestContext } from '../express/context';
import { recordOf } from '../session/record';
import { isTokenRecord } from '../session/token-record';

/**
 * Make the access token of this request's session look expired, as time would leave it, so the next
 * `requireWpsToken()` or `req.wps.getAccessToken()` refreshes it through the real path (single-flight, lock, the
 * call to WPS, the save). For demo routes and tests — never mount a route that calls it in production. The change
 * is saved with the session at the end of the request, like any session change. Returns `false` when the session
 * holds no tokens.
 *
 * @example
 * app.post('/test/expire', (req, res) => res.json({ expired: expireAccessToken(req) }));
 */
export function expireAccessToken(req: Request): boolean {
  if (req.session === undefined) return false;
  const tokens = recordOf(req.session)?.tokens;
  if (!isTokenRecord(tokens)) return false;
  // "Now" as the wpsAuth() that serves this request sees it: a test clock may run ahead of the system clock.
  const clock = (req.wps as WpsRequestContext | undefined)?.runtime.config.clock ?? systemClock;
  tokens.expiresAt = Math.min(tokens.expiresAt, clock.now() - 1000);
  return true;
}
