import type { AxiosInstance } from 'axios';
import type { Request } from 'express';
import { apiSettingsOf, createApi, fixedToken } from './api';
import { WpsApiError } from '../errors';
import type { ResolvedConfig } from '../config';
import { cleanExternalText, WpsAuthError } from '../errors';
import type { WpsLogger, WpsTokenRecord, WpsUser } from '../types';

/** Where the signed-in user's profile lives (scope `kso.user_base.read`). */
export const CURRENT_USER_PATH = '/v7/users/current';

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Map WPS's `data` object of `GET /v7/users/current` onto a {@link WpsUser}; `undefined` without an id. */
export function toWpsUser(data: unknown): WpsUser | undefined {
  const d = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  const id = text(d.id);
  if (id === undefined) return undefined;
  const user: WpsUser = { id, name: text(d.user_name) ?? '' };
  const avatar = text(d.avatar);
  if (avatar !== undefined) user.avatar = avatar;
  const companyId = text(d.company_id);
  if (companyId !== undefined) user.companyId = companyId;
  return user;
}

/** Whether `value` looks like a stored {@link WpsUser} (sessions come from a store: never trust their shape). */
export function isWpsUser(value: unknown): value is WpsUser {
  const u = value as WpsUser | null | undefined;
  return typeof u === 'object' && u !== null && typeof u.id === 'string' && typeof u.name === 'string';
}

/** `GET /v7/users/current` through one of our API instances; rejects with a `WpsApiError` (or a `WpsAuthError`). */
export async function fetchCurrentUser(api: AxiosInstance): Promise<WpsUser> {
  const res = await api.get<unknown>(CURRENT_USER_PATH, { responseType: 'json' });
  const user = toWpsUser((res.data as { data?: unknown } | null)?.data);
  if (user === undefined) {
    throw new WpsApiError('wps_unavailable', `WPS answered GET ${CURRENT_USER_PATH} without a user id`, {
      method: 'GET',
      path: CURRENT_USER_PATH,
      wpsStatus: res.status,
    });
  }
  return user;
}

const BAD_RESULT =
  'express-wps-oauth: afterLogin must return nothing (keep the WPS profile) or a user object with a string id and ' +
  'name (stored as req.wps.user)';

/**
 * What the callback does between the code exchange and storing the tokens: fetch the profile when `fetchUser` is
 * on (a failure is logged and leaves the user unset: `getUser()` retries), then run `afterLogin`, whose throw
 * refuses the login with `login_refused`. Resolves with the user to store.
 */
export async function afterCodeExchange(
  req: Request,
  config: ResolvedConfig,
  log: WpsLogger,
  tokens: WpsTokenRecord,
): Promise<WpsUser | undefined> {
  let user: WpsUser | undefined;
  if (config.fetchUser) {
    try {
      user = await fetchCurrentUser(createApi(apiSettingsOf(config), fixedToken(tokens.accessToken)));
    } catch (err) {
      const e = err as Partial<WpsApiError>;
      log.warn('callback: could not fetch the WPS user; req.wps.getUser() will retry', {
        code: e.code,
        ...(e.wpsStatus !== undefined && { wpsStatus: e.wpsStatus }),
        ...(e.wpsCode !== undefined && { wpsCode: e.wpsCode }),
      });
    }
  }
  const { afterLogin } = config;
  if (afterLogin === undefined) return user;
  let result: unknown;
  try {
    result = await afterLogin(req, { tokens: { ...tokens }, user: user && { ...user } });
  } catch (err) {
    const reason = cleanExternalText((err as { message?: unknown } | null)?.message) || 'no reason given';
    log.info('callback: afterLogin refused the sign-in');
    throw new WpsAuthError('login_refused', `The sign-in was refused by the app: ${reason}`);
  }
  if (result === undefined) return user;
  if (!isWpsUser(result)) throw new WpsAuthError('misconfigured', BAD_RESULT);
  return result;
}
