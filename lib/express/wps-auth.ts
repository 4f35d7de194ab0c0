import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { resolveConfig, type ResolvedConfig } from '../config';
import { WpsAuthError } from '../errors';
import { createLog } from '../logger';
import { Refresher } from '../refresh/refresher';
import { storedTokensOf } from '../session/record';
import { claimStore, plainTokens, SealedTokens, type TokenCodec } from '../session/token-codec';
import { TokenSealer } from '../session/token-sealer';
import type { WpsAuthOptions, WpsLogger } from '../types';
import { refusedUncalled } from '../uncalled';
import { apiSettings } from '../wps/api';
import { TokenClient } from '../wps/token-client';
import { callbackRoute } from './callback';
import { clientScriptRoute } from './client-script';
import { clientSignInRoute } from './client-sign-in';
import { WpsRequestContext } from './context';
import { loginRoute } from './login';
import { logoutRoute } from './logout';
import { isPath, mountProblem, noteMount } from './mount';
import type { RouteHandler, Runtime } from './runtime';
import { sessionProblem } from './session-check';

const UNCALLED =
  'express-wps-oauth: it appears you have done something like `app.use(wpsAuth)`, ' +
  'but it should be `app.use(wpsAuth({ clientId, clientSecret, redirectUri }))`.';

const OTHER_KEYS =
  'express-wps-oauth: another wpsAuth() already encrypts the tokens in this session store with other keys. ' +
  'Give every wpsAuth() that shares a session store the same tokenEncryptionKey list.';

/** Everything one `wpsAuth()` shares with the requests it serves, built once. */
function createRuntime(config: ResolvedConfig, log: WpsLogger): Runtime {
  const client = new TokenClient(config);
  const codec: TokenCodec =
    config.tokenKeys === undefined ? plainTokens : new SealedTokens(new TokenSealer(config.tokenKeys), log);
  return { config, log, client, codec, refresher: new Refresher(config, client, log), api: apiSettings(config) };
}

type RouteName = 'login' | 'callback' | 'logout' | 'client' | 'clientScript';

/**
 * The routes, by method and full path; `undefined` for every other request. The client sign-in route and its
 * script take every method (and answer 405 themselves to those they do not serve).
 */
function routeFor(config: ResolvedConfig, routes: Record<RouteName, RouteHandler>) {
  const { callbackPath, loginPath, logoutPath, clientSignInPath } = config;
  const scriptPath = clientSignInPath === false ? false : `${clientSignInPath}.js`;
  return function route(method: string, url: string): RouteHandler | undefined {
    if (isPath(url, clientSignInPath)) return routes.client;
    if (isPath(url, scriptPath)) return routes.clientScript;
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') return undefined;
    if (isPath(url, logoutPath)) return routes.logout;
    if (method === 'GET' && isPath(url, callbackPath)) return routes.callback;
    if (method !== 'POST' && isPath(url, loginPath)) return routes.login;
    return undefined;
  };
}

/**
 * Adds WPS 365 sign-in to an Express app. Mount it once, after `express-session` — at the app root, or under a
 * prefix, in a Router or in a sub-app, as long as its routes lie under the mount path (route paths are full paths,
 * as the browser sees them; a mount that leaves a route outside fails every request with `misconfigured`). It
 * serves the login route, the callback route (the path of `redirectUri`), the logout route and the client sign-in
 * route for pages inside the WPS 365 client (with its script), and sets `req.wps` for every request it sees — in
 * the routes after it, in enclosing apps' and in sub-apps'. Options are validated here, once: a bad configuration
 * throws a `TypeError` naming every problem.
 *
 * @example
 * import express from 'express';
 * import session from 'express-session';
 * import { wpsAuth } from 'express-wps-oauth';
 *
 * const app = express();
 * app.use(session({ secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false }));
 * app.use(wpsAuth({ redirectUri: 'https://app.example.com/auth/wps/callback' }));
 */
export function wpsAuth(options?: WpsAuthOptions): RequestHandler {
  // eslint-disable-next-line prefer-rest-params
  if (refusedUncalled(arguments, UNCALLED)) return undefined as unknown as RequestHandler;
  const config = resolveConfig(options);
  const runtime = createRuntime(config, createLog(config.logger));
  const route = routeFor(config, {
    login: loginRoute(runtime),
    callback: callbackRoute(runtime),
    logout: logoutRoute(runtime),
    client: clientSignInRoute(runtime),
    clientScript: clientScriptRoute(runtime),
  });
  const { codec } = runtime;
  /** A mount path (`req.baseUrl`) already known to hold every route: the check then costs one comparison. */
  let checkedBase = '';

  /** The checks every request gets before anything is written: a usable session, a mount that serves every route. */
  function problemWith(req: Request): WpsAuthError | undefined {
    const err = sessionProblem(req);
    if (err !== undefined) return err;
    if (codec instanceof SealedTokens && !claimStore(req.sessionStore, codec)) {
      return new WpsAuthError('misconfigured', OTHER_KEYS);
    }
    const base = req.baseUrl;
    if (base === checkedBase || base === undefined) return undefined;
    const mount = mountProblem(config, base);
    if (mount === undefined) {
      checkedBase = base;
      noteMount(req.app, base);
    }
    return mount;
  }

  return function wpsAuthMiddleware(req: Request, res: Response, next: NextFunction): void {
    const err = problemWith(req);
    if (err !== undefined) return next(err);
    const ctx = new WpsRequestContext(req, runtime);
    req.wps = ctx;
    // Only a session that loaded tokens can write stale ones back: the guard stands in front of its saves.
    if (storedTokensOf(req.session) !== undefined) ctx.guardSaves();
    const base = req.baseUrl;
    const handler = route(req.method, base === '' || base === undefined ? req.url : base + req.url);
    if (handler === undefined) return next();
    handler(req, res, ctx).catch(next);
  };
}
