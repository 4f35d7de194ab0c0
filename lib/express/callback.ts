import type { Request, Response } from 'express';
import { cleanExternalText, WpsAuthError, type WpsStateMismatchReason } from '../errors';
import { pendingLoginCount, takePendingLogin } from '../session/login-state';
import { saveSession } from '../session/save';
import { isUsable } from '../token-set';
import type { WpsRequestContext } from './context';
import type { RouteHandler, Runtime } from './runtime';
import { completeSignIn } from './sign-in';
import { stateMismatch } from './sign-in-diagnosis';

const MAX_CODE = 2048;
const MAX_STATE = 512;
const PRINTABLE = /^[\x21-\x7e]+$/;

/** A query parameter given once, as printable ASCII of at most `max` characters; else `undefined`. */
function printableParam(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length <= max && PRINTABLE.test(value) ? value : undefined;
}

/**
 * A callback whose state matched no sign-in in progress. A signed-in session — typically the Back button to the
 * consent page, then Allow again — goes to `defaultReturnTo` without calling WPS; any other gets a
 * `state_mismatch` that says why. Logged at warn, without the state or the code.
 */
function unmatched(
  runtime: Runtime,
  { req, res, ctx }: { req: Request; res: Response; ctx: WpsRequestContext },
  reason: WpsStateMismatchReason,
  now: number,
): void {
  const { config, log } = runtime;
  if (isUsable(ctx.tokens(), now)) {
    log.warn('callback: the state matches no sign-in, but this session is signed in; back to defaultReturnTo', {
      reason,
    });
    res.redirect(302, config.defaultReturnTo);
    return;
  }
  const err = stateMismatch(req, config, reason, pendingLoginCount(req.session));
  log.warn(`callback: ${err.message}`, { reason });
  throw err;
}

/** WPS redirected back with `error`: the sign-in was not granted. */
function refused(runtime: Runtime, query: Record<string, unknown>): WpsAuthError {
  const error = cleanExternalText(typeof query.error === 'string' ? query.error : undefined, 100) ?? 'unknown_error';
  const description = cleanExternalText(query.error_description);
  runtime.log.info('callback: WPS refused the sign-in', { error });
  return new WpsAuthError(
    'access_denied',
    `WPS sign-in was not granted: ${error}${description ? ` (${description})` : ''}`,
    {
      error,
      ...(description !== undefined && { errorDescription: description }),
    },
  );
}

/**
 * The callback route (the path of `redirectUri`): the `state` must match a sign-in this session started (single use,
 * 10 minutes, constant-time comparison); then WPS's refusal becomes `access_denied`, a code becomes a signed-in
 * session. Failures are `WpsAuthError`s passed to `next(err)`; none carries the code or the state.
 */
export function callbackRoute(runtime: Runtime): RouteHandler {
  const { config } = runtime;
  return async function callback(req: Request, res: Response, ctx: WpsRequestContext): Promise<void> {
    const query = req.query as Record<string, unknown>;
    const now = config.clock.now();
    const state = printableParam(query.state, MAX_STATE);
    const code = printableParam(query.code, MAX_CODE);
    if (query.error === undefined && code === undefined) {
      throw new WpsAuthError(
        'invalid_callback',
        'The WPS callback has no usable authorization code (missing, empty, repeated, too long or not printable ASCII)',
      );
    }
    const taken = takePendingLogin(req.session, state, now, config.stateTtlMs);
    if (taken.login === undefined) return unmatched(runtime, { req, res, ctx }, taken.reason, now);
    if (query.error !== undefined || code === undefined) throw refused(runtime, query);
    // Store the consumed state before calling WPS, so a second copy of this callback racing this one finds it gone.
    await saveSession(req.session);
    await completeSignIn(req, ctx, code, 'callback');
    res.redirect(302, taken.login.returnTo);
  };
}
