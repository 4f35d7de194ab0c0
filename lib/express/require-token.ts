import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { contextOf } from './context';
import { WpsAuthError } from '../errors';
import { refusedUncalled } from '../uncalled';
import { isFresh } from '../token-set';
import { noWpsAuthFor } from './mount';
import type { RequireWpsTokenOptions, UnauthenticatedMode } from '../types';

const MODES: readonly UnauthenticatedMode[] = ['auto', 'redirect', 'error'];

const UNCALLED =
  'express-wps-oauth: it appears you have done something like `app.get(path, requireWpsToken, handler)`, ' +
  'but it should be `app.get(path, requireWpsToken(), handler)`.';

function wantsHtml(req: Request): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && (req.headers.accept ?? '').includes('text/html');
}

function unauthenticated(
  req: Request,
  res: Response,
  next: NextFunction,
  err: WpsAuthError,
  mode: UnauthenticatedMode,
  loginPath: string | false,
): void {
  const redirect = mode === 'redirect' || (mode === 'auto' && wantsHtml(req));
  if (!redirect || loginPath === false) return next(err);
  res.redirect(302, `${loginPath}?returnTo=${encodeURIComponent(req.originalUrl)}`);
}

/**
 * Protects a route: downstream handlers find a valid access token in `req.wps.accessToken`. A token about to
 * expire is refreshed first (one refresh per session, however many requests wait for it); a user without usable
 * tokens is sent to login (browsers) or gets a `login_required` 401 error (APIs), as `unauthenticated` says.
 *
 * With a fresh token this is a session read and a comparison — no I/O.
 *
 * @example
 * import express from 'express';
 * import { requireWpsToken } from 'express-wps-oauth';
 *
 * const app = express();
 * // Browsers without a session go to the login page; an API client gets a 401 login_required error instead.
 * app.get('/files', requireWpsToken(), async (req, res, next) => {
 *   try {
 *     res.json((await req.wps.api.get('/v7/files')).data);
 *   } catch (err) {
 *     next(err);
 *   }
 * });
 * app.get('/api/me', requireWpsToken({ unauthenticated: 'error' }), (req, res) => {
 *   res.json({ name: req.wps.user?.name });
 * });
 */
export function requireWpsToken(options?: RequireWpsTokenOptions): RequestHandler {
  // eslint-disable-next-line prefer-rest-params
  if (refusedUncalled(arguments, UNCALLED)) return undefined as unknown as RequestHandler;
  const override = options?.unauthenticated;
  if (override !== undefined && !MODES.includes(override)) {
    throw new TypeError(`express-wps-oauth: requireWpsToken({ unauthenticated }) must be one of ${MODES.join(', ')}`);
  }

  return function requireWpsTokenMiddleware(req: Request, res: Response, next: NextFunction): void {
    const ctx = contextOf(req);
    if (ctx === undefined) {
      next(noWpsAuthFor(req.app, req.originalUrl.split('?')[0] ?? '/'));
      return;
    }
    const { config } = ctx.runtime;
    const tokens = ctx.tokens();
    if (tokens !== undefined && isFresh(tokens, config.refreshSkewMs, config.clock.now())) {
      ctx.accessToken = tokens.accessToken;
      next();
      return;
    }
    ctx.getAccessToken().then(
      () => next(),
      (err: unknown) => {
        if (err instanceof WpsAuthError && err.code === 'login_required') {
          unauthenticated(req, res, next, err, override ?? config.unauthenticated, config.loginPath);
        } else {
          next(err);
        }
      },
    );
  };
}
