import { apiSettings, createApi } from './api';
import { resolveAppClientConfig } from '../config';
import { WpsAuthError } from '../errors';
import { TokenClient } from './token-client';
import type { WpsAppClient, WpsAppClientOptions } from '../types';

interface CachedToken {
  token: string;
  /** When to stop serving it: its expiry minus the skew. */
  renewAt: number;
  expiresAt: number;
}

/**
 * A client for calling WPS as the app itself (no user): gets the app access token with `client_credentials`,
 * keeps it until shortly before it expires, and exposes the same `api` shape as `req.wps.api`. Create it once, at
 * startup; options are validated here and a bad one throws a `TypeError` naming every problem.
 *
 * @example
 * import { createWpsAppClient } from 'express-wps-oauth';
 *
 * // clientId and clientSecret from WPS_CLIENT_ID and WPS_CLIENT_SECRET.
 * const wpsApp = createWpsAppClient();
 * const { data } = await wpsApp.api.get('/v7/users/some-user-id', { params: { with_dept: true } });
 * console.log(data);
 */
export function createWpsAppClient(options?: WpsAppClientOptions): WpsAppClient {
  const config = resolveAppClientConfig(options);
  // The app client never exchanges a code, so it has no redirect URI.
  const client = new TokenClient({ ...config, redirectUri: '' });
  let cached: CachedToken | undefined;
  let inflight: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    const previous = cached;
    try {
      const res = await client.clientCredentials();
      const now = config.clock.now();
      const lifetimeMs = res.expires_in * 1000;
      const skew = Math.min(config.refreshSkewMs, lifetimeMs / 2);
      cached = { token: res.access_token, renewAt: now + lifetimeMs - skew, expiresAt: now + lifetimeMs };
      return res.access_token;
    } catch (err) {
      // WPS is down or slow: the old token is still good for a while, so keep serving with it.
      if (previous !== undefined && previous === cached && previous.expiresAt > config.clock.now()) {
        if (err instanceof WpsAuthError && err.code !== 'wps_rejected') return previous.token;
      }
      throw err;
    }
  }

  function getAppAccessToken(): Promise<string> {
    if (cached !== undefined && cached.renewAt > config.clock.now()) return Promise.resolve(cached.token);
    inflight ??= fetchToken().finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  const api = createApi(apiSettings(config), {
    get: getAppAccessToken,
    invalidate: (token) => {
      if (cached?.token === token) cached = undefined;
      return true;
    },
  });
  return { getAppAccessToken, api };
}
