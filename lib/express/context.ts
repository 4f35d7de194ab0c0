import type { AxiosInstance } from 'axios';
import type { Request, Response } from 'express';
import { IncomingMessage } from 'node:http';
import { apiSettingsOf, createApi } from '../wps/api';
import type { ResolvedConfig } from '../config';
import type { Refresher } from '../refresh/refresher';
import { recordOf, writableRecordOf } from '../session/record';
import { regenerateSession } from '../session/save';
import type { TokenClient } from '../wps/token-client';
import { isTokenRecord, isUsable } from '../session/token-record';
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
    return isUsable(this.tokens, this.runtime.config.clock.now());
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

const hasOwn = (o: object, key: PropertyKey): boolean => Object.prototype.hasOwnProperty.call(o, key);

/**
 * Make `req.wps` resolve to {@link wpsAccessor} for requests whose prototype is `proto` — an Express app's
 * `app.request`. The accessor goes on the Express request object that every app of that Express copy inherits
 * from (the one just above `IncomingMessage.prototype`), so it is there in a parent app's routes, a sub-app's and a
 * sibling router's alike (Express swaps `req`'s prototype as a request enters and leaves a sub-app). An app whose
 * `app.request` hides it under a `wps` of its own gets the accessor on `app.request` itself. Never on Node's
 * shared `IncomingMessage.prototype`. Returns `false` when `proto` is no Express request prototype.
 */
function installOn(proto: object): boolean {
  if (!(proto instanceof IncomingMessage)) return false;
  let shared = proto;
  for (let up = Object.getPrototypeOf(shared) as object; up !== IncomingMessage.prototype;) {
    // Something between Express and IncomingMessage (an app's own layer): install on the lowest common one.
    if (!(up instanceof IncomingMessage)) break;
    shared = up;
    up = Object.getPrototypeOf(up) as object;
  }
  let owner: object | null = proto;
  while (owner !== null && owner !== IncomingMessage.prototype && !hasOwn(owner, 'wps')) {
    owner = Object.getPrototypeOf(owner) as object | null;
  }
  const found = owner === null || owner === IncomingMessage.prototype ? undefined : owner;
  if (found !== undefined && Object.getOwnPropertyDescriptor(found, 'wps')?.get === wpsAccessor.get) return true;
  // Nothing yet: on the shared object. Shadowed by a `wps` of the app's: on that app's own prototype.
  Object.defineProperty(found === undefined ? shared : proto, 'wps', wpsAccessor);
  return true;
}

/** The request prototype seen last: while it does not change, the accessor is known to be in place. */
let lastPrototype: object | null = null;

/**
 * Every request prototype whose accessor (and its enclosing apps') is in place: with a parent app and a sub-app
 * taking turns (their prototypes alternate), a lookup here instead of walking the prototype chains again.
 */
const readyPrototypes = new WeakSet<object>();

/**
 * Make sure `req.wps` reads the context on this request and on its way through every enclosing app (a sub-app's
 * parents: Express restores their prototypes when the sub-app calls `next()`). Costs one prototype comparison
 * per request once in place.
 */
function ensureAccessor(req: Request): boolean {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto === lastPrototype) return true;
  if (proto === null) return false;
  if (!readyPrototypes.has(proto)) {
    if (!installOn(proto)) return false;
    for (let app = (req as { app?: { parent?: unknown } }).app?.parent; isApp(app); app = app.parent) {
      installOn(app.request);
    }
    readyPrototypes.add(proto);
  }
  lastPrototype = proto;
  return true;
}

function isApp(value: unknown): value is { request: object; parent?: unknown } {
  if (typeof value !== 'function') return false;
  const request = (value as { request?: unknown }).request;
  return typeof request === 'object' && request !== null;
}

/** Make `ctx` this request's `req.wps`. */
export function attachContext(req: Request, res: Response, ctx: WpsRequestContext): void {
  const locals = res.locals as Locals | undefined;
  if (typeof locals === 'object' && locals !== null && req.res === res && ensureAccessor(req)) {
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
