import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { resolveConfig, type ResolvedConfig } from '../config';
import { attachContext, WpsRequestContext, type Runtime } from './context';
import { cleanExternalText, WpsAuthError } from '../errors';
import { createLog } from '../logger';
import { calledAsMiddleware, handleAsync } from './misuse';
import { recordOf, replaceRecord, writableRecordOf } from '../session/record';
import { Refresher } from '../refresh/refresher';
import { safeReturnTo } from './return-to';
import { SealedSessions } from '../session/sealed-sessions';
import { regenerateSession, saveSession } from '../session/save';
import { addPendingLogin, newState, takePendingLogin } from '../session/login-state';
import { TokenClient } from '../wps/token-client';
import { TokenSealer } from '../session/token-sealer';
import { toTokenRecord } from '../session/token-record';
import type { WpsAuthOptions } from '../types';
import { afterCodeExchange } from '../wps/user';

const MAX_CODE = 2048;
const MAX_STATE = 512;
const PRINTABLE = /^[\x21-\x7e]+$/;

/** Whether `url`'s path (before any `?`) is `path` — what `req.path === path` says, without parsing the URL. */
function isPath(url: string, path: string | false): boolean {
  return path !== false && url.startsWith(path) && (url.length === path.length || url.charCodeAt(path.length) === 63);
}

function single(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function printable(value: string | undefined, max: number): string | undefined {
  return value !== undefined && value.length <= max && PRINTABLE.test(value) ? value : undefined;
}

const NO_SESSION =
  'express-wps-oauth: req.session is missing. Mount express-session before wpsAuth(): ' +
  'app.use(session({ secret, resave: false, saveUninitialized: false })); app.use(wpsAuth({ ... }))';

const UNCALLED =
  'express-wps-oauth: it appears you have done something like `app.use(wpsAuth)`, ' +
  'but it should be `app.use(wpsAuth({ clientId, clientSecret, redirectUri }))`.';

function routes(config: ResolvedConfig, runtime: Runtime) {
  const { log, client } = runtime;
  const authorizePrefix =
    `${config.authorizeUrl}?` +
    new URLSearchParams({
      response_type: 'code',
      client_id: config.clientId,
      redirect_uri: config.redirectUri,
      scope: config.scope,
    }).toString() +
    '&state=';

  async function login(req: Request, res: Response): Promise<void> {
    const returnTo = safeReturnTo(req.query.returnTo) ?? config.defaultReturnTo;
    const state = newState();
    const data = writableRecordOf(req.session);
    addPendingLogin(
      data,
      { state, returnTo, createdAt: config.clock.now() },
      config.maxPendingLogins,
      config.stateTtlMs,
    );
    await saveSession(req.session);
    log.debug('login: redirecting to WPS', { pending: data.pending?.length });
    res.redirect(302, authorizePrefix + state);
  }

  async function callback(req: Request, res: Response): Promise<void> {
    const query = req.query as Record<string, unknown>;
    const now = config.clock.now();
    const state = printable(single(query.state), MAX_STATE);
    const takeLogin = () =>
      state === undefined ? undefined : takePendingLogin(recordOf(req.session), state, now, config.stateTtlMs);

    if (query.error !== undefined) {
      if (takeLogin() === undefined) throw stateMismatch();
      const error = cleanExternalText(single(query.error), 100) ?? 'unknown_error';
      const description = cleanExternalText(single(query.error_description));
      log.info('callback: WPS refused the sign-in', { error });
      throw new WpsAuthError(
        'access_denied',
        `WPS sign-in was not granted: ${error}${description ? ` (${description})` : ''}`,
        { error, ...(description !== undefined && { errorDescription: description }) },
      );
    }
    const code = printable(single(query.code), MAX_CODE);
    if (code === undefined) {
      throw new WpsAuthError(
        'invalid_callback',
        'The WPS callback has no usable authorization code (missing, empty, repeated, too long or not printable ASCII)',
      );
    }
    const pending = takeLogin();
    if (pending === undefined) throw stateMismatch();
    // Store the consumed state before calling WPS, so a second copy of this callback racing this one finds it gone.
    await saveSession(req.session);

    const started = Date.now();
    const tokenResponse = await client.exchangeCode(code);
    log.debug('callback: code exchanged', { ms: Date.now() - started });
    const record = toTokenRecord(tokenResponse, config.clock.now());
    const user = await afterCodeExchange(req, config, log, record);
    const otherTabs = recordOf(req.session)?.pending;
    await regenerateSession(req);
    const data = replaceRecord(
      req.session,
      otherTabs === undefined ? { tokens: record } : { tokens: record, pending: otherTabs },
    );
    if (user !== undefined) data.user = user;
    await saveSession(req.session);
    log.debug('callback: signed in', { ms: Date.now() - started });
    res.redirect(302, pending.returnTo);
  }

  async function logout(req: Request, res: Response): Promise<void> {
    const body = req.body as { returnTo?: unknown } | undefined;
    const returnTo =
      safeReturnTo(req.query.returnTo ?? (typeof body === 'object' && body !== null ? body.returnTo : undefined)) ??
      config.defaultReturnTo;
    await req.wps.logout();
    res.redirect(302, returnTo);
  }

  return { login: handleAsync(login), callback: handleAsync(callback), logout: handleAsync(logout) };
}

function stateMismatch(): WpsAuthError {
  return new WpsAuthError(
    'state_mismatch',
    'The sign-in state is missing, unknown, already used or older than 10 minutes; start the sign-in again',
  );
}

/**
 * Adds WPS 365 sign-in to an Express app. Mount it once, at the app root, after `express-session`. It serves
 * the login route, the callback route (the path of `redirectUri`) and the logout route, and sets `req.wps` on
 * every request. Options are validated here, once: a bad configuration throws a `TypeError` naming every problem.
 *
 * @example
 * app.use(session({ secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false }));
 * app.use(wpsAuth({ clientId, clientSecret, redirectUri: 'https://app.example.com/auth/wps/callback' }));
 */
export function wpsAuth(options?: WpsAuthOptions): RequestHandler {
  // eslint-disable-next-line prefer-rest-params
  if (calledAsMiddleware(arguments)) {
    // eslint-disable-next-line prefer-rest-params
    const next = arguments[2] as NextFunction;
    next(new WpsAuthError('misconfigured', UNCALLED));
    return undefined as unknown as RequestHandler;
  }
  const config = resolveConfig(options);
  const log = createLog(config.logger);
  const client = new TokenClient(config);
  const runtime: Runtime = { config, log, client, refresher: new Refresher(config, client, log) };
  const handlers = routes(config, runtime);
  const { callbackPath, loginPath, logoutPath } = config;

  function wpsAuthMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (req.session === undefined) {
      next(new WpsAuthError('misconfigured', NO_SESSION));
      return;
    }
    attachContext(req, res, new WpsRequestContext(req, runtime));
    // Only a session that already holds tokens can write stale ones back; anonymous requests skip the guard.
    // (wpsOf also unpacks the stored string here, so the app finds req.session.wps an object.)
    if (recordOf(req.session)?.tokens !== undefined) runtime.refresher.guard.protect(req.session);
    const method = req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'POST') {
      const url = req.url;
      if (isPath(url, logoutPath)) return handlers.logout(req, res, next);
      if (method === 'GET' && isPath(url, callbackPath)) return handlers.callback(req, res, next);
      if (method !== 'POST' && isPath(url, loginPath)) return handlers.login(req, res, next);
    }
    next();
  }
  if (config.tokenKeys === undefined) return wpsAuthMiddleware;

  const sealed = new SealedSessions(new TokenSealer(config.tokenKeys), log);
  return function wpsAuthSealedMiddleware(req: Request, res: Response, next: NextFunction): void {
    const err = req.session === undefined ? undefined : sealed.prepare(req);
    if (err !== undefined) return next(err);
    wpsAuthMiddleware(req, res, next);
  };
}
