import type { AxiosInstance } from 'axios';
import type { Request, Response } from 'express';
import { IncomingMessage } from 'node:http';
import { apiSettingsOf, createApi } from '../wps/api';
import type { ResolvedConfig } from '../config';
import type { Refresher } from '../refresh/refresher';
import { recordOf, writableRecordOf } from '../session/record';
import { regenerateSession } from '../session/save';
import type { TokenClient } from '../wps/token-client';
import { canRefresh, isTokenRecord } from '../session/token-record';
import type { WpsContext, WpsLogger, WpsTokenRecord, WpsUser } from '../types';
import { fetchCurrentUser, isWpsUser } from '../wps/user';

/** What one `wpsAuth()` instance shares with every request it serves. Internal. */
export interface Runtime {
  config: ResolvedConfig;
  client: TokenClient;
  refresher: Refresher;
  log: WpsLogger;
}

/**
 * The object behind `req.wps`. One small allocation per request, kept on `res.locals` (see {@link attachContext});
 * all behaviour lives on the prototype.
 */
export class WpsRequestContext implements WpsContext {
  accessToken: string | undefined = undefined;
  private apiInstance: AxiosInstance | undefined = undefined;

  constructor(
    private readonly req: Request,
    /** @internal */ readonly runtime: Runtime,
  ) {}

  private get tokens(): WpsTokenRecord | undefined {
    const tokens = recordOf(this.req.session)?.tokens;
    return isTokenRecord(tokens) ? tokens : undefined;
  }

  isAuthenticated(): boolean {
    const tokens = this.tokens;
    if (tokens === undefined) return false;
    const now = this.runtime.config.clock.now();
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

  async refresh(): Promise<string> {
    const token = await this.runtime.refresher.getFreshToken(this.req, true);
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
    const user = recordOf(this.req.session)?.user;
    return this.tokens !== undefined && isWpsUser(user) ? user : undefined;
  }

  async getUser(): Promise<WpsUser> {
    const known = this.user;
    if (known !== undefined) return known;
    const user = await fetchCurrentUser(this.api);
    const data = writableRecordOf(this.req.session);
    data.user = user;
    return user;
  }

  async logout(): Promise<void> {
    this.accessToken = undefined;
    await regenerateSession(this.req);
    this.runtime.log.debug('logged out');
  }
}

/** Where `wpsAuth` keeps this request's context: a symbol key on `res.locals`, invisible to views and loops. */
const CONTEXT = Symbol('express-wps-oauth.context');

type Locals = Record<PropertyKey, unknown> & { [CONTEXT]?: WpsRequestContext };

/**
 * `req.wps`, as an accessor on the request prototype. Express gives every request object a hidden class of its
 * own (it re-sets the prototype per request), so V8 cannot cache a property write to `req`: each one costs
 * microseconds. The context is stored on `res.locals` instead (a hash table, where a write is cheap), and
 * `req.wps` reads it from there. Assigning `req.wps` (e.g. in a test) still works: it becomes an own property.
 */
const wpsAccessor: PropertyDescriptor = {
  configurable: true,
  enumerable: false,
  get(this: Request): WpsRequestContext | undefined {
    return (this.res?.locals as Locals | undefined)?.[CONTEXT];
  },
  set(this: Request, value: unknown) {
    Object.defineProperty(this, 'wps', { value, writable: true, enumerable: true, configurable: true });
  },
};

let lastPrototype: object | null = null;

/** Put the `req.wps` accessor on this request's prototype (Express's `app.request`), once per prototype. */
function installAccessor(req: Request): boolean {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto === lastPrototype) return true;
  // Only on an Express app's request prototype, never on Node's shared IncomingMessage.prototype.
  if (!(proto instanceof IncomingMessage)) return false;
  if (Object.getOwnPropertyDescriptor(proto, 'wps')?.get !== wpsAccessor.get)
    Object.defineProperty(proto, 'wps', wpsAccessor);
  lastPrototype = proto;
  return true;
}

/** Make `ctx` this request's `req.wps`. */
export function attachContext(req: Request, res: Response, ctx: WpsRequestContext): void {
  const locals = res.locals as Locals | undefined;
  if (typeof locals === 'object' && locals !== null && req.res === res && installAccessor(req)) {
    locals[CONTEXT] = ctx;
  } else {
    // Not an Express request as usual: an own property, slower but the same to the app.
    Object.defineProperty(req, 'wps', { value: ctx, writable: true, enumerable: true, configurable: true });
  }
}

/** This request's context, when `wpsAuth` has run for it. */
export function contextOf(req: Request, res: Response): WpsRequestContext | undefined {
  const ctx = (res.locals as Locals | undefined)?.[CONTEXT];
  return ctx ?? (req.wps as WpsRequestContext | undefined);
}
