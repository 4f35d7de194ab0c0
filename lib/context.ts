import type { AxiosInstance } from 'axios';
import type { Request } from 'express';
import { apiSettingsOf, createApi } from './api';
import type { ResolvedConfig } from './config';
import type { Refresher } from './refresh';
import { regenerateSession, wpsDataOf } from './session';
import type { TokenClient } from './token-client';
import { canRefresh, isTokenRecord } from './token-set';
import type { WpsContext, WpsLogger, WpsTokenRecord, WpsUser } from './types';
import { fetchCurrentUser, isWpsUser } from './user';

/** What one `wpsAuth()` instance shares with every request it serves. Internal. */
export interface Runtime {
  config: ResolvedConfig;
  client: TokenClient;
  refresher: Refresher;
  log: WpsLogger;
}

/** The object behind `req.wps`. One small allocation per request; all behaviour lives on the prototype. */
export class WpsRequestContext implements WpsContext {
  accessToken: string | undefined = undefined;
  private apiInstance: AxiosInstance | undefined = undefined;

  constructor(
    private readonly req: Request,
    /** @internal */ readonly runtime: Runtime,
  ) {}

  private get tokens(): WpsTokenRecord | undefined {
    const tokens = this.req.session.wps?.tokens;
    return isTokenRecord(tokens) ? tokens : undefined;
  }

  isAuthenticated(): boolean {
    const tokens = this.tokens;
    if (tokens === undefined) return false;
    const now = Date.now();
    return tokens.expiresAt > now || canRefresh(tokens, now);
  }

  get expiresAt(): Date | undefined {
    const tokens = this.tokens;
    return tokens === undefined ? undefined : new Date(tokens.expiresAt);
  }

  async getAccessToken(): Promise<string> {
    const token = await this.runtime.refresher.getFreshToken(this.req);
    this.accessToken = token;
    return token;
  }

  get api(): AxiosInstance {
    return (this.apiInstance ??= createApi(apiSettingsOf(this.runtime.config), {
      get: () => this.getAccessToken(),
      invalidate: (token) => {
        // WPS refused a token we thought valid: mark it expiring, so that getAccessToken() refreshes through the
        // serialized path — unless another request already replaced it.
        const tokens = this.tokens;
        if (tokens !== undefined && tokens.accessToken === token) tokens.expiresAt = 0;
        return true;
      },
    }));
  }

  get user(): WpsUser | undefined {
    const user = this.req.session.wps?.user;
    return this.tokens !== undefined && isWpsUser(user) ? user : undefined;
  }

  async getUser(): Promise<WpsUser> {
    const known = this.user;
    if (known !== undefined) return known;
    const user = await fetchCurrentUser(this.api);
    const data = wpsDataOf(this.req.session);
    data.user = user;
    return user;
  }

  async logout(): Promise<void> {
    this.accessToken = undefined;
    await regenerateSession(this.req);
    this.runtime.log.debug('logged out');
  }
}
