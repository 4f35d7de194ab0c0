import type { AxiosInstance } from 'axios';
import { WpsApiError } from '../errors';
import type { WpsUser } from '../types';
import { toWpsUser } from '../wps-user';

/** Where the signed-in user's profile lives (scope `kso.user_base.read`). */
export const CURRENT_USER_PATH = '/v7/users/current';

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
