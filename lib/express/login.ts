import type { Request, Response } from 'express';
import type { ResolvedConfig } from '../config';
import { addPendingLogin, newState } from '../session/login-state';
import { saveSession } from '../session/save';
import { safeReturnTo } from './return-to';
import type { RouteHandler, Runtime } from './runtime';
import { cookieProblems } from './sign-in-diagnosis';

/** The authorize URL up to `state=`: built once per `wpsAuth()`. */
function authorizePrefix(config: ResolvedConfig): string {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: config.scope,
  });
  return `${config.authorizeUrl}?${query.toString()}&state=`;
}

/**
 * The login route: a new CSRF `state` (256 random bits) recorded in the session with a safe `returnTo`, the
 * session saved, then a redirect to WPS's authorize page. What will keep the session cookie from coming back with
 * the callback is logged at warn, once per cause, before the user goes.
 */
export function loginRoute(runtime: Runtime): RouteHandler {
  const { config, log } = runtime;
  const prefix = authorizePrefix(config);
  /** Problems already reported: each is logged once per `wpsAuth()` (a few at most). */
  const reported = new Set<string>();

  function warnAboutCookie(req: Request): void {
    for (const problem of cookieProblems(req, config)) {
      if (reported.has(problem) || reported.size >= 16) continue;
      reported.add(problem);
      log.warn(`login: the session cookie will not come back with the WPS callback: ${problem}`);
    }
  }

  return async function login(req: Request, res: Response): Promise<void> {
    const returnTo = safeReturnTo(req.query.returnTo) ?? config.defaultReturnTo;
    const state = newState();
    warnAboutCookie(req);
    const login = { state, returnTo, createdAt: config.clock.now() };
    const pending = addPendingLogin(req.session, login, config.maxPendingLogins, config.stateTtlMs);
    await saveSession(req.session);
    log.debug('login: redirecting to WPS', { pending });
    res.redirect(302, prefix + state);
  };
}
