import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { resolveConfig, type ResolvedConfig } from '../config';
import { attachContext, WpsRequestContext, type Runtime } from './context';
import { cleanExternalText, WpsAuthError, type WpsStateMismatchReason } from '../errors';
import { createLog } from '../logger';
import { handleAsync } from './handle-async';
import { refusedUncalled } from '../uncalled';
import { recordOf, replaceRecord, writableRecordOf } from '../session/record';
import { Refresher } from '../refresh/refresher';
import { safeReturnTo } from './return-to';
import { rememberSessionStore } from '../session/app-stores';
import { SealedSessions } from '../session/sealed-sessions';
import { regenerateSession, saveSession } from '../session/save';
import { addPendingLogin, newState, takePendingLogin } from '../session/login-state';
import { cookieProblems, stateMismatch } from './sign-in-diagnosis';
import { TokenClient } from '../wps/token-client';
import { TokenSealer } from '../session/token-sealer';
import { isUsable, toTokenRecord } from '../session/token-record';
import type { WpsAuthOptions } from '../types';
import { afterCodeExchange } from '../wps/user';

const MAX_CODE = 2048;
const MAX_STATE = 512;
const PRINTABLE = /^[\x21-\x7e]+$/;

/**
 * Whether `url`'s path (before any `?`) is `path` — what `req.path === path` says, without parsing the URL. `url`
 * is the request's full path as the app sees it (mount path and all), so route paths are full paths wherever
 * `wpsAuth` is mounted.
 */
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

const NOT_EXPRESS_SESSION =
  'express-wps-oauth: req.session has no regenerate() and save(): wpsAuth() needs express-session (or a session ' +
  'middleware with its API over a server-side store), mounted before it. Cookie-only sessions such as ' +
  'cookie-session cannot work: WPS rotates the refresh token at every refresh, and only a server-side store lets ' +
  'one refresh win while other requests wait for it; in a cookie the tokens would also travel to the browser. ' +
  'Use app.use(session({ secret, resave: false, saveUninitialized: false, store })) from express-session.';

/** Why `req.session` cannot hold a sign-in (missing, or not express-session's), before anything is written to it. */
function sessionProblem(req: Request): WpsAuthError | undefined {
  const session = req.session as Partial<Record<'regenerate' | 'save', unknown>> | undefined;
  if (session === undefined) return new WpsAuthError('misconfigured', NO_SESSION);
  if (typeof session.regenerate !== 'function' || typeof session.save !== 'function') {
    return new WpsAuthError('misconfigured', NOT_EXPRESS_SESSION);
  }
  return undefined;
}

/** Whether the full path `path` lies inside the mount path `base` (Express matches mount paths case-insensitively). */
function isUnder(path: string, base: string): boolean {
  const p = path.toLowerCase();
  const b = base.toLowerCase();
  return p === b || p.startsWith(b.endsWith('/') ? b : `${b}/`);
}

/**
 * A `misconfigured` error when `wpsAuth` is mounted at `base` (its `req.baseUrl`) but some of its routes lie outside
 * that path: they would never reach it, and WPS would send users to a 404.
 */
function mountProblem(config: ResolvedConfig, base: string): WpsAuthError | undefined {
  const routes: string[] = [];
  if (!isUnder(config.callbackPath, base)) routes.push(`the callback "${config.callbackPath}" (redirectUri's path)`);
  if (config.loginPath !== false && !isUnder(config.loginPath, base)) routes.push(`loginPath "${config.loginPath}"`);
  if (config.logoutPath !== false && !isUnder(config.logoutPath, base)) {
    routes.push(`logoutPath "${config.logoutPath}"`);
  }
  if (routes.length === 0) return undefined;
  return new WpsAuthError(
    'misconfigured',
    `express-wps-oauth: wpsAuth() is mounted at "${base}", but ${routes.join(', ')} ` +
      `${routes.length === 1 ? 'is' : 'are'} outside it and would never be served. Route paths are full paths, as ` +
      `the browser sees them. Mount it at the app root — app.use(wpsAuth({ ... })) — or keep every route under ` +
      `the mount path, e.g. app.use('${base}', wpsAuth({ redirectUri: 'https://<your host>${base}/auth/wps/callback', ` +
      `loginPath: '${base}/auth/wps/login', logoutPath: '${base}/auth/wps/logout' })).`,
  );
}

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
    warnAboutCookie(req);
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

  /** Problems already reported by {@link warnAboutCookie}: each is logged once per `wpsAuth()` (a few at most). */
  const reported = new Set<string>();

  /** At login, say what will keep the session cookie from coming back with the callback, before it happens. */
  function warnAboutCookie(req: Request): void {
    for (const problem of cookieProblems(req, config)) {
      if (reported.has(problem) || reported.size >= 16) continue;
      reported.add(problem);
      log.warn(`login: the session cookie will not come back with the WPS callback: ${problem}`);
    }
  }

  /**
   * A callback whose state matched no sign-in in progress. A signed-in session — typically the Back button to the
   * consent page, then Allow again — goes to `defaultReturnTo` without calling WPS; any other gets a
   * `state_mismatch` that says why. Logged at warn, without the state or the code.
   */
  function unmatched(req: Request, res: Response, reason: WpsStateMismatchReason, now: number): void {
    const record = recordOf(req.session);
    if (isUsable(record?.tokens, now)) {
      log.warn('callback: the state matches no sign-in, but this session is signed in; back to defaultReturnTo', {
        reason,
      });
      res.redirect(302, config.defaultReturnTo);
      return;
    }
    const err = stateMismatch(req, config, reason, record?.pending?.length ?? 0);
    log.warn(`callback: ${err.message}`, { reason });
    throw err;
  }

  async function callback(req: Request, res: Response): Promise<void> {
    const query = req.query as Record<string, unknown>;
    const now = config.clock.now();
    const state = printable(single(query.state), MAX_STATE);
    const takeLogin = () => takePendingLogin(recordOf(req.session), state, now, config.stateTtlMs);

    if (query.error !== undefined) {
      const taken = takeLogin();
      if (taken.login === undefined) return unmatched(req, res, taken.reason, now);
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
    const taken = takeLogin();
    if (taken.login === undefined) return unmatched(req, res, taken.reason, now);
    const pending = taken.login;
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
    rememberSessionStore(req);
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

/**
 * Adds WPS 365 sign-in to an Express app. Mount it once, after `express-session` — at the app root, or under a
 * prefix, in a Router or in a sub-app, as long as its routes lie under the mount path (route paths are full paths,
 * as the browser sees them; a mount that leaves a route outside fails every request with `misconfigured`). It
 * serves the login route, the callback route (the path of `redirectUri`) and the logout route, and sets `req.wps`
 * for every request it sees — in the routes after it, in enclosing apps' and in sub-apps'. Options are validated
 * here, once: a bad configuration throws a `TypeError` naming every problem.
 *
 * @example
 * app.use(session({ secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false }));
 * app.use(wpsAuth({ clientId, clientSecret, redirectUri: 'https://app.example.com/auth/wps/callback' }));
 */
export function wpsAuth(options?: WpsAuthOptions): RequestHandler {
  // eslint-disable-next-line prefer-rest-params
  if (refusedUncalled(arguments, UNCALLED)) return undefined as unknown as RequestHandler;
  const config = resolveConfig(options);
  const log = createLog(config.logger);
  const client = new TokenClient(config);
  const runtime: Runtime = { config, log, client, refresher: new Refresher(config, client, log) };
  const handlers = routes(config, runtime);
  const { callbackPath, loginPath, logoutPath } = config;

  /** A mount path (`req.baseUrl`) already known to hold every route: the check then costs one comparison. */
  let checkedBase = '';

  /** The checks every request gets before anything is written: a usable session, a mount that serves every route. */
  function problemWith(req: Request): WpsAuthError | undefined {
    const err = sessionProblem(req);
    if (err !== undefined) return err;
    const base = req.baseUrl;
    if (base === checkedBase || base === undefined) return undefined;
    const mount = mountProblem(config, base);
    if (mount === undefined) checkedBase = base;
    return mount;
  }

  function wpsAuthMiddleware(req: Request, res: Response, next: NextFunction): void {
    attachContext(req, res, new WpsRequestContext(req, runtime));
    // Only a session that already holds tokens can write stale ones back; anonymous requests skip the guard.
    if (recordOf(req.session)?.tokens !== undefined) runtime.refresher.guard.protect(req.session);
    const method = req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'POST') {
      const base = req.baseUrl;
      const url = base === '' || base === undefined ? req.url : base + req.url;
      if (isPath(url, logoutPath)) return handlers.logout(req, res, next);
      if (method === 'GET' && isPath(url, callbackPath)) return handlers.callback(req, res, next);
      if (method !== 'POST' && isPath(url, loginPath)) return handlers.login(req, res, next);
    }
    next();
  }
  if (config.tokenKeys === undefined) {
    return function wpsAuthCheckedMiddleware(req: Request, res: Response, next: NextFunction): void {
      const err = problemWith(req);
      if (err !== undefined) return next(err);
      wpsAuthMiddleware(req, res, next);
    };
  }

  const sealed = new SealedSessions(new TokenSealer(config.tokenKeys), log);
  return function wpsAuthSealedMiddleware(req: Request, res: Response, next: NextFunction): void {
    const err = problemWith(req) ?? sealed.prepare(req);
    if (err !== undefined) return next(err);
    wpsAuthMiddleware(req, res, next);
  };
}
