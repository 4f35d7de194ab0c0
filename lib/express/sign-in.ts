import type { Request } from 'express';
import { rememberSessionStore } from '../session/app-stores';
import { keepOtherLogins, otherLogins } from '../session/login-state';
import { setUser } from '../session/record';
import { saveSession } from '../session/save';
import { toTokenRecord } from '../token-set';
import type { WpsUser } from '../types';
import { afterCodeExchange } from './after-login';
import type { WpsRequestContext } from './context';

/**
 * The end of every sign-in, whichever way the code came (the redirect's callback, or the WPS client's bridge):
 * exchange it (the platform's five form fields), fetch the profile and run `afterLogin`, then — only when all of
 * that succeeded — a new session id (against fixation) holding the tokens, the profile and the sign-ins other tabs
 * still have in progress, saved before the answer. Rejects with a `WpsAuthError`; nothing is stored then.
 */
export async function completeSignIn(
  req: Request,
  ctx: WpsRequestContext,
  code: string,
  via: string,
): Promise<WpsUser | undefined> {
  const { client, config, log } = ctx.runtime;
  const started = Date.now();
  const tokens = toTokenRecord(await client.exchangeCode(code), config.clock.now());
  log.debug(`${via}: code exchanged`, { ms: Date.now() - started });
  const user = await afterCodeExchange(req, ctx.runtime, tokens, via);
  const others = otherLogins(req.session);
  await ctx.regenerate();
  ctx.setTokens(tokens);
  keepOtherLogins(req.session, others);
  if (user !== undefined) setUser(req.session, user);
  await saveSession(req.session);
  rememberSessionStore(req);
  log.debug(`${via}: signed in`, { ms: Date.now() - started });
  return user;
}
