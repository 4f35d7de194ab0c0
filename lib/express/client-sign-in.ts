import type { Request, Response } from 'express';
import { cleanExternalText, reasonOf, WpsError } from '../errors';
import type { WpsLogger } from '../types';
import { REFUSALS, sendAnswer, type ClientRefusal } from './client-answers';
import { readClientBody } from './client-body';
import { corsHeaders, judgeOrigin, preflightHeaders, signInOrigins } from './client-origin';
import type { WpsRequestContext } from './context';
import { safeReturnTo } from './return-to';
import type { RouteHandler, Runtime } from './runtime';
import { completeSignIn } from './sign-in';

const VIA = 'client sign-in';
const ALLOW = 'GET, HEAD, POST, OPTIONS';
const METHODS: ReadonlySet<string> = new Set(ALLOW.split(', '));
type Cors = Record<string, string>;

/** An error of the library's family: its code, status and message are safe to answer with. */
function isWpsError(err: unknown): err is WpsError {
  return err instanceof WpsError;
}

/** Whether the request declared a body that nobody read: Node would drain it after the answer. */
function bodyUnread(req: Request): boolean {
  const declared = (req.headers['content-length'] ?? '0') !== '0' || req.headers['transfer-encoding'] !== undefined;
  return declared && !req.readableEnded;
}

/** Refuse, logging why (with the origin as sent, cleaned; never the body); an unread body closes the connection. */
function refuse(log: WpsLogger, req: Request, res: Response, refusal: ClientRefusal, why: string, headers = {}): void {
  const origin = cleanExternalText(req.headers.origin, 100);
  if (refusal.error === 'method_not_allowed') log.debug(`${VIA}: refused (${refusal.error})`, { method: req.method });
  else log.warn(`${VIA}: refused (${refusal.error}): ${why}`, origin === undefined ? undefined : { origin });
  const close = bodyUnread(req) ? { Connection: 'close' } : {};
  sendAnswer(res, refusal.status, { error: refusal.error, message: refusal.message }, { ...headers, ...close });
}

/** WPS or `afterLogin` said no (their errors are secret-free by construction); anything else is ours. */
function failed(log: WpsLogger, res: Response, err: unknown, cors: Cors): void {
  if (isWpsError(err)) {
    const { code, status, message } = err;
    log.warn(`${VIA}: the sign-in failed (${code}): ${message}`, { status });
    return sendAnswer(res, status, { error: code, message }, cors);
  }
  log.error(`${VIA}: the sign-in failed on an unexpected error`, { reason: reasonOf(err) });
  sendAnswer(res, 500, { error: 'internal_error', message: 'The sign-in could not be completed' }, cors);
}

/** `GET`/`HEAD`: whether this session is signed in, and who. Never cached. */
function answerStatus(res: Response, ctx: WpsRequestContext, cors: Cors): void {
  const signedIn = ctx.isAuthenticated();
  const user = signedIn ? ctx.user : undefined;
  sendAnswer(res, 200, { signedIn, ...(user !== undefined && { user }) }, cors);
}

/**
 * The client sign-in route (免登): a page inside the WPS 365 client posts the code its JS bridge got from
 * `ksoxz_sdk.requestAccess` as JSON `{ code, returnTo? }`, and the session signs in as through the callback — with
 * no redirect, and no login CSRF: only `redirectUri`'s origin and `trustedOrigins` may post, and only as
 * `application/json` (which no cross-site page can send without a preflight). Every check runs before WPS is called
 * and before the session is touched, so a refused request spends no code and sets no cookie. `GET` says whether the
 * session is signed in; `OPTIONS` answers the preflight of a trusted origin. It answers every outcome itself as JSON
 * `{ error, message }` (never `next(err)`), and logs failures without the code.
 */
export function clientSignInRoute(runtime: Runtime): RouteHandler {
  const { config, log } = runtime;
  const allowed = signInOrigins(config);

  /** `POST`: the code exchanged exactly as the callback's, then `{ signedIn, returnTo, user }`. */
  async function signIn(req: Request, res: Response, ctx: WpsRequestContext, cors: Cors): Promise<void> {
    const body = await readClientBody(req);
    if (body.kind === 'gone') return log.debug(`${VIA}: the client went away before its body was complete`);
    if (body.kind === 'refused') return refuse(log, req, res, body.refusal, body.why, cors);
    const returnTo = safeReturnTo(body.returnTo) ?? config.defaultReturnTo;
    try {
      await completeSignIn(req, ctx, body.code, VIA);
    } catch (err) {
      return failed(log, res, err, cors);
    }
    const { user } = ctx;
    sendAnswer(res, 200, { signedIn: true, returnTo, ...(user !== undefined && { user }) }, cors);
  }

  return async function clientSignIn(req: Request, res: Response, ctx: WpsRequestContext): Promise<void> {
    const { method } = req;
    if (!METHODS.has(method)) return refuse(log, req, res, REFUSALS.methodNotAllowed, 'method', { Allow: ALLOW });
    const origin = judgeOrigin(req, allowed);
    // A browser sends Origin with every POST and every preflight: none there is no browser of ours.
    if (origin.kind === 'refused' || (origin.kind === 'none' && method !== 'GET' && method !== 'HEAD')) {
      const why = origin.kind === 'none' ? 'no Origin header' : 'not an origin of this app (see trustedOrigins)';
      return refuse(log, req, res, REFUSALS.forbiddenOrigin, why);
    }
    const cors = origin.kind === 'allowed' ? corsHeaders(origin.origin) : {};
    if (method === 'OPTIONS' && origin.kind === 'allowed') {
      res.status(204).set(preflightHeaders(origin.origin)).vary('Origin').end();
      return;
    }
    if (method === 'POST') return signIn(req, res, ctx, cors);
    answerStatus(res, ctx, cors);
  };
}
