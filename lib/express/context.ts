import type { AxiosInstance } from 'axios';
import type { Request } from 'express';
import type { RefreshTarget } from '../refresh/target';
import { setStoredTokens, setUser, storedTokensOf, userOf } from '../session/record';
import { regenerateSession, saveSession, type SaveFn } from '../session/save';
import { interceptSave } from '../session/save-seam';
import { readStoredTokens } from '../session/store-io';
import { isUsable } from '../token-set';
import type { WpsContext, WpsTenantClient, WpsTokenRecord, WpsUser } from '../types';
import { createApi } from '../wps/api';
import { fetchCurrentUser } from '../wps/user';
import type { Runtime } from './runtime';

/**
 * The object behind `req.wps`: `wpsAuth` assigns one to every request it sees, as a plain own property. It reads the
 * session's tokens through the runtime's codec (opening sealed tokens once per request), and is what the refresher
 * and the rotation guard work on ({@link RefreshTarget}).
 */
export class WpsRequestContext implements WpsContext, RefreshTarget {
  accessToken: string | undefined = undefined;
  /** The stored form last opened, and what it opened to: a request reads its tokens many times. */
  private seen: unknown = undefined;
  private opened: WpsTokenRecord | undefined = undefined;
  /** express-session's `save` of this session, once the rotation guard stands in front of it. */
  private ownSave: SaveFn | undefined = undefined;
  private apiInstance: AxiosInstance | undefined = undefined;

  constructor(
    private readonly req: Request,
    /** @internal */ readonly runtime: Runtime,
  ) {}

  get sid(): string {
    return this.req.sessionID;
  }

  tokens(): WpsTokenRecord | undefined {
    const stored = storedTokensOf(this.req.session);
    if (stored !== this.seen) {
      this.seen = stored;
      this.opened = stored === undefined ? undefined : this.runtime.codec.open(stored, this.req.sessionID);
    }
    return this.opened;
  }

  setTokens(tokens: WpsTokenRecord | undefined): void {
    const stored = tokens === undefined ? undefined : this.runtime.codec.close(tokens, this.req.sessionID);
    setStoredTokens(this.req.session, stored);
    this.seen = stored;
    this.opened = tokens;
  }

  readStoredTokens(): Promise<WpsTokenRecord | undefined> {
    return readStoredTokens(this.req.sessionStore, this.req.sessionID, this.runtime.codec);
  }

  persist(): Promise<void> {
    return saveSession(this.req.session, this.ownSave);
  }

  /** Put the rotation guard in front of this session's saves (for a session that loaded tokens from the store). */
  guardSaves(): void {
    this.ownSave = interceptSave(this.req.session, this.runtime.refresher.guard, this);
  }

  /**
   * Replace the session with a new one under a new id (against fixation). Nothing read of the old one holds; a
   * guarded session's successor is guarded too.
   */
  async regenerate(): Promise<void> {
    const guarded = this.ownSave !== undefined;
    await regenerateSession(this.req);
    this.ownSave = undefined;
    this.seen = undefined;
    this.opened = undefined;
    if (guarded) this.guardSaves();
  }

  isAuthenticated(): boolean {
    return isUsable(this.tokens(), this.runtime.config.clock.now());
  }

  get expiresAt(): Date | undefined {
    const tokens = this.tokens();
    return tokens === undefined ? undefined : new Date(tokens.expiresAt);
  }

  async getAccessToken(): Promise<string> {
    const token = await this.runtime.refresher.getFreshToken(this);
    this.accessToken = token;
    return token;
  }

  async refresh(): Promise<string> {
    const token = await this.runtime.refresher.getFreshToken(this, true);
    this.accessToken = token;
    return token;
  }

  get api(): AxiosInstance {
    return (this.apiInstance ??= createApi(this.runtime.api, {
      get: () => this.getAccessToken(),
      invalidate: (token) => {
        // WPS refused a token we thought valid: mark it expired, so that getAccessToken() refreshes through the
        // serialized path — unless another request already replaced it.
        const tokens = this.tokens();
        if (tokens !== undefined && tokens.accessToken === token) this.setTokens({ ...tokens, expiresAt: 0 });
        return true;
      },
    }));
  }

  get user(): WpsUser | undefined {
    return this.tokens() === undefined ? undefined : userOf(this.req.session);
  }

  async getUser(): Promise<WpsUser> {
    const known = this.user;
    if (known !== undefined) return known;
    const user = await fetchCurrentUser(this.api);
    setUser(this.req.session, user);
    return user;
  }

  get tenant(): WpsTenantClient | undefined {
    const { tenants } = this.runtime.config;
    const companyId = tenants === undefined ? undefined : this.user?.companyId;
    if (tenants === undefined || companyId === undefined || !this.isAuthenticated()) return undefined;
    return tenants.client(companyId);
  }

  async logout(): Promise<void> {
    this.accessToken = undefined;
    await this.regenerate();
    this.runtime.log.debug('logged out');
  }
}

/** This request's context, when a `wpsAuth()` has run for it (in this app or an enclosing one). */
export function contextOf(req: Request): WpsRequestContext | undefined {
  const ctx = (req as { wps?: unknown }).wps;
  return ctx instanceof WpsRequestContext ? ctx : undefined;
}
