import type { Request } from 'express';
import { cleanExternalText, WpsAuthError, type WpsApiError } from '../errors';
import type { WpsTokenRecord, WpsUser } from '../types';
import { isWpsUser } from '../wps-user';
import { createApi, fixedToken } from '../wps/api';
import { fetchCurrentUser } from '../wps/user';
import type { Runtime } from './runtime';

const BAD_RESULT =
  'express-wps-oauth: afterLogin must return nothing (keep the WPS profile) or a user object with a string id and ' +
  'name (stored as req.wps.user)';

/** The profile, when `fetchUser` is on; a failure is logged and leaves it unset (`getUser()` retries later). */
async function fetchProfile(runtime: Runtime, tokens: WpsTokenRecord, via: string): Promise<WpsUser | undefined> {
  if (!runtime.config.fetchUser) return undefined;
  try {
    return await fetchCurrentUser(createApi(runtime.api, fixedToken(tokens.accessToken)));
  } catch (err) {
    const e = err as Partial<WpsApiError>;
    runtime.log.warn(`${via}: could not fetch the WPS user; req.wps.getUser() will retry`, {
      code: e.code,
      ...(e.wpsStatus !== undefined && { wpsStatus: e.wpsStatus }),
      ...(e.wpsCode !== undefined && { wpsCode: e.wpsCode }),
    });
    return undefined;
  }
}

/**
 * What a sign-in does between the code exchange and storing the tokens: fetch the profile when `fetchUser` is on,
 * then run `afterLogin`, whose throw refuses the sign-in with `login_refused`. Resolves with the user to store.
 * `via` names the route in log lines ("callback", "client sign-in").
 */
export async function afterCodeExchange(
  req: Request,
  runtime: Runtime,
  tokens: WpsTokenRecord,
  via: string,
): Promise<WpsUser | undefined> {
  const user = await fetchProfile(runtime, tokens, via);
  const { afterLogin } = runtime.config;
  if (afterLogin === undefined) return user;
  let result: unknown;
  try {
    result = await afterLogin(req, { tokens: { ...tokens }, user: user && { ...user } });
  } catch (err) {
    const reason = cleanExternalText((err as { message?: unknown } | null)?.message) || 'no reason given';
    runtime.log.info(`${via}: afterLogin refused the sign-in`);
    throw new WpsAuthError('login_refused', `The sign-in was refused by the app: ${reason}`);
  }
  if (result === undefined) return user;
  if (!isWpsUser(result)) throw new WpsAuthError('misconfigured', BAD_RESULT);
  return result;
}
