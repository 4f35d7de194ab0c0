import type { AxiosInstance } from 'axios';
import type { Request } from 'express';
import type {} from 'express-session';
import type { WpsClock } from './clock';

/**
 * What to do when `requireWpsToken` meets a request without usable tokens.
 * - `'auto'`: browsers (`GET`/`HEAD` accepting `text/html`) are redirected to login, everything else gets a 401.
 * - `'redirect'`: always redirect to login.
 * - `'error'`: always `next(err)` with a `login_required` `WpsAuthError`.
 */
export type UnauthenticatedMode = 'auto' | 'redirect' | 'error';

/**
 * A pino/winston-style logger. The library logs no secret and no token through it.
 * Silent when not given.
 */
export interface WpsLogger {
  /** The steps of a sign-in and of a refresh. */
  debug(message: string, meta?: Record<string, unknown>): void;
  /** A refresh, and the refresh lock back after an outage. */
  info(message: string, meta?: Record<string, unknown>): void;
  /** What needs a look: a refused refresh token, WPS unavailable while a valid token is served, a lost sign-in. */
  warn(message: string, meta?: Record<string, unknown>): void;
  /** WPS unavailable with an expired token, the refresh lock unavailable (once per outage). */
  error(message: string, meta?: Record<string, unknown>): void;
}

/**
 * A lock that serializes refreshes of one session, across every process that shares the session store.
 * WPS rotates refresh tokens: two concurrent refreshes with the same refresh token log the user out.
 */
export interface RefreshLock {
  /**
   * Try once to take the lock `key` for `ttlMs`. Resolve with an owner token when taken, `null` when somebody
   * else holds it. Must not wait.
   */
  acquire(key: string, ttlMs: number): Promise<string | null>;
  /** Release `key` only if `owner` still holds it. */
  release(key: string, owner: string): Promise<void>;
}

/** Options of {@link wpsAuth}. Every option is validated once, when `wpsAuth()` is called. */
export interface WpsAuthOptions {
  /**
   * The app's APPID from the WPS developer console.
   * @default process.env.WPS_CLIENT_ID
   */
  clientId?: string | undefined;
  /**
   * The app's APPKEY. Never appears in any message, log, error or response.
   * @default process.env.WPS_CLIENT_SECRET
   */
  clientSecret?: string | undefined;
  /**
   * The absolute http(s) callback URL registered at WPS. Its path is where the callback route listens.
   * @default process.env.WPS_REDIRECT_URI
   * @example 'https://app.example.com/auth/wps/callback'
   */
  redirectUri?: string | undefined;
  /**
   * Scopes to request: an array or a comma-separated string. Sent comma-joined, as WPS expects.
   * @default ['kso.user_base.read']
   */
  scope?: string | string[] | undefined;
  /**
   * Origin of `/oauth2/auth` and `/oauth2/token`. Point it at the fake WPS in tests.
   * @default 'https://openapi.wps.cn'
   */
  baseUrl?: string | undefined;
  /**
   * Path of the login route; `false` turns it off.
   * @default '/auth/wps/login'
   */
  loginPath?: string | false | undefined;
  /**
   * Path of the logout route (`GET` and `POST`); `false` turns it off.
   * @default '/auth/wps/logout'
   */
  logoutPath?: string | false | undefined;
  /**
   * Path of the client sign-in route, for pages opened inside the WPS 365 client (免登): `POST` a code from the
   * client's JS bridge (`ksoxz_sdk.requestAccess`) as JSON `{ code, returnTo? }` to sign in without a redirect;
   * `GET` says whether the session is signed in. Its browser half is served at this path + `.js`. Only pages of
   * `redirectUri`'s origin and of `trustedOrigins` may post, with `Content-Type: application/json` (against login
   * CSRF). A full path, as the browser sees it, like `loginPath`; `false` turns the route and its script off.
   * @default '/auth/wps/client-sign-in'
   * @example
   * import { wpsAuth } from 'express-wps-oauth';
   *
   * // In a page the WPS client opens, after the client's bridge:
   * // <script src="/auth/wps/client.js" data-return-to="/home"></script>
   * wpsAuth({ redirectUri: 'https://app.example.com/auth/wps/callback', clientSignInPath: '/auth/wps/client' });
   */
  clientSignInPath?: string | false | undefined;
  /**
   * Origins, besides `redirectUri`'s, whose pages may post codes to the client sign-in route from another origin
   * (e.g. a portal on another host): they get the CORS answers a credentialed `fetch` needs. Their session cookie
   * must then be `sameSite: 'none'` and `secure` for the browser to send it.
   * @default []
   * @example
   * import { wpsAuth } from 'express-wps-oauth';
   *
   * wpsAuth({
   *   redirectUri: 'https://app.example.com/auth/wps/callback',
   *   trustedOrigins: ['https://portal.example.com'],
   * });
   */
  trustedOrigins?: string[] | undefined;
  /**
   * Where login and logout land when no safe `returnTo` was given. A same-origin path.
   * @default '/'
   */
  defaultReturnTo?: string | undefined;
  /**
   * Refresh this many seconds before the access token expires.
   * @default 60
   */
  refreshSkewSeconds?: number | undefined;
  /**
   * Limit, in milliseconds, for each call to WPS (the whole call, including a slowly dripping body).
   * @default 10000
   */
  timeoutMs?: number | undefined;
  /**
   * What `requireWpsToken` does for a user without usable tokens; `requireWpsToken({ unauthenticated })`
   * overrides it per route.
   * @default 'auto'
   */
  unauthenticated?: UnauthenticatedMode | undefined;
  /**
   * Largest response body accepted from WPS, in bytes; a larger one is refused as `wps_unavailable`, not buffered.
   * @default 1048576
   */
  maxResponseBytes?: number | undefined;
  /**
   * How many logins may be pending in one session at once (several tabs). The oldest is dropped first.
   * @default 10
   */
  maxPendingLogins?: number | undefined;
  /**
   * Serializes refreshes across processes. The default serializes within this process only; use
   * `redisRefreshLock(client)` when several instances share sessions.
   * @default an in-process lock
   */
  refreshLock?: RefreshLock | undefined;
  /**
   * Receives what the library has to say (never a secret or a token).
   * @default silent
   */
  logger?: WpsLogger | undefined;
  /**
   * Fetch the signed-in user's profile (`GET /v7/users/current`) right after the code exchange and keep it in the
   * session as `req.wps.user`. A failure there does not fail the login: it is logged, and `req.wps.getUser()`
   * fetches the profile again on first use.
   * @default true when `scope` includes `kso.user_base.read`, else false
   */
  fetchUser?: boolean | undefined;
  /**
   * Sign every `req.wps.api` request with WPS's KSO-1 scheme (`X-Kso-Date` and `X-Kso-Authorization`, keyed with
   * the APPKEY). Needed only when API signing is switched on for the app in the WPS developer console.
   * @default false
   */
  signRequests?: boolean | undefined;
  /**
   * Runs after a successful code exchange (and the profile fetch), before the session is regenerated and the
   * tokens are stored: map the WPS user onto your own account here. Throw to refuse the login: nothing is
   * stored, and the callback fails with a `login_refused` (403) `WpsAuthError` carrying your error's message.
   * Return a user object to store it instead of the WPS profile (e.g. with your account id added); return nothing
   * to keep the profile. Don't write to `req.session` here: the session is regenerated right after.
   * @default none
   * @example
   * import { wpsAuth } from 'express-wps-oauth';
   *
   * // Your own accounts, by WPS user id.
   * const accounts = new Map([['wps-user-1', { id: 'acct-42' }]]);
   *
   * wpsAuth({
   *   redirectUri: 'https://app.example.com/auth/wps/callback',
   *   afterLogin: (_req, { user }) => {
   *     const account = user && accounts.get(user.id);
   *     if (!user || !account) throw new Error('No account for this WPS user');
   *     return { ...user, accountId: account.id };
   *   },
   * });
   */
  afterLogin?: ((req: Request, login: WpsLoginInfo) => WpsAfterLoginResult | Promise<WpsAfterLoginResult>) | undefined;
  /**
   * Encrypt the token record in the session store (AES-256-GCM, bound to the session id), so that a dump of the
   * store shows no access or refresh token. A string (at least 32 random characters) is stretched with
   * HKDF-SHA256; a Buffer must be exactly 32 bytes and is used as is. Pass a list to rotate keys: the first one
   * encrypts, every one decrypts. A record that no key opens counts as signed out. Works with any
   * express-session store. Only the token record is encrypted: the user profile and pending logins stay readable.
   * @default none (tokens are stored as they are)
   * @example
   * tokenEncryptionKey: [process.env.WPS_TOKEN_KEY!, process.env.WPS_TOKEN_KEY_OLD!] // new key first
   */
  tokenEncryptionKey?: string | Buffer | Array<string | Buffer> | undefined;
  /**
   * Where the library reads the time (token expiry and refresh, the age of a sign-in, refresh-lock TTLs). For
   * tests: `createTestClock()` from `express-wps-oauth/testing` moves time forward without sleeping.
   * @default systemClock
   */
  clock?: WpsClock | undefined;
  /**
   * For a marketplace (ISV) app: what `wpsTenants()` returned. `req.wps.tenant` is then the signed-in user's company
   * client, `tenants.client(req.wps.user.companyId)`.
   * @default none (`req.wps.tenant` is always `undefined`)
   */
  tenants?: WpsTenants | undefined;
}

/**
 * The WPS user's profile, from `GET /v7/users/current`. Kept in the session; to type fields your `afterLogin` adds,
 * augment this interface: `declare module 'express-wps-oauth' { interface WpsUser { accountId: string } }`.
 */
export interface WpsUser {
  /** WPS's user id (`data.id`). */
  id: string;
  /** Display name (`data.user_name`); `''` when WPS sent none. */
  name: string;
  /** Avatar URL (`data.avatar`), when WPS sent one. */
  avatar?: string;
  /** The user's company (`data.company_id`), when WPS sent one. */
  companyId?: string;
}

/** What `afterLogin` is told about the login it may refuse. */
export interface WpsLoginInfo {
  /** The tokens the code exchange returned, about to be stored. */
  tokens: WpsTokenRecord;
  /** The user's profile, or `undefined` when `fetchUser` is off or the fetch failed. */
  user: WpsUser | undefined;
}

/** What `afterLogin` may return: nothing (keep the profile), or the user object to store instead. */
export type WpsAfterLoginResult = void | undefined | (WpsUser & Record<string, unknown>);

/** Options of {@link createWpsAppClient}. Validated once, when `createWpsAppClient()` is called. */
export interface WpsAppClientOptions {
  /**
   * The app's APPID.
   * @default process.env.WPS_CLIENT_ID
   */
  clientId?: string | undefined;
  /**
   * The app's APPKEY. Never appears in any message, log, error or response.
   * @default process.env.WPS_CLIENT_SECRET
   */
  clientSecret?: string | undefined;
  /**
   * Origin of `/oauth2/token` and the v7 API. Point it at the fake WPS in tests.
   * @default 'https://openapi.wps.cn'
   */
  baseUrl?: string | undefined;
  /**
   * Limit, in milliseconds, for each call to WPS.
   * @default 10000
   */
  timeoutMs?: number | undefined;
  /**
   * Get a new app token this many seconds before the cached one expires (at most half its lifetime).
   * @default 60
   */
  refreshSkewSeconds?: number | undefined;
  /**
   * Largest response body accepted from WPS, in bytes.
   * @default 1048576
   */
  maxResponseBytes?: number | undefined;
  /**
   * Sign every `api` request with KSO-1 (needed only when API signing is on for the app).
   * @default false
   */
  signRequests?: boolean | undefined;
  /**
   * Where the library reads the time (the app token's expiry). For
   * tests: `createTestClock()` from `express-wps-oauth/testing` moves time forward without sleeping.
   * @default systemClock
   */
  clock?: WpsClock | undefined;
}

/** What {@link createWpsAppClient} returns: the app's own access token, and the API as the app (no user). */
export interface WpsAppClient {
  /**
   * Resolves with the app access token (`client_credentials`), cached until `refreshSkewSeconds` before it
   * expires; concurrent callers share one token request. Rejects with a `WpsAuthError` (`wps_rejected` for wrong
   * credentials, `wps_unavailable`, `wps_timeout`).
   */
  getAppAccessToken(): Promise<string>;
  /**
   * An axios instance for the WPS API with the app token, shaped like `req.wps.api`: bearer added, one new token
   * and one retry on a 401, `WpsApiError` on failure, KSO-1 signing when `signRequests` is on.
   */
  readonly api: AxiosInstance;
}

/** Options of {@link requireWpsToken}. */
export interface RequireWpsTokenOptions {
  /** Overrides `wpsAuth`'s `unauthenticated` for this route. */
  unauthenticated?: UnauthenticatedMode | undefined;
}

/** The tokens of a signed-in session, as `afterLogin` sees them. Times are epoch milliseconds. */
export interface WpsTokenRecord {
  /** The access token (WPS: an ES256 JWT, valid for 2 hours). Send it to WPS, never to the browser. */
  accessToken: string;
  /** The refresh token (rotated at every refresh), when WPS gave one. */
  refreshToken?: string;
  /** The token type WPS named, usually `bearer`. */
  tokenType: string;
  /** When the access token expires. */
  expiresAt: number;
  /** When the refresh token expires, if WPS said. */
  refreshExpiresAt?: number;
  /** Incremented by every refresh: a newer record always has a higher `rev`. */
  rev: number;
}

/** The per-request context `wpsAuth` puts at `req.wps`. */
export interface WpsContext {
  /** `true` when the session holds an access token that is still valid or a refresh token to get a new one. */
  isAuthenticated(): boolean;
  /** A valid access token, set by `requireWpsToken` (and by `getAccessToken()`); `undefined` before. */
  accessToken: string | undefined;
  /** When the current access token expires, or `undefined` when signed out. */
  readonly expiresAt: Date | undefined;
  /**
   * Resolves with a valid access token, refreshing it first when it is about to expire (serialized with every
   * other refresh of this session). Rejects with a `WpsAuthError` (`login_required` when signed out).
   */
  getAccessToken(): Promise<string>;
  /**
   * Refreshes the access token now, whatever its expiry (serialized with every other refresh of this session), and
   * resolves with the new one — e.g. after the user granted more scopes. When the session holds no usable refresh
   * token it resolves with the current access token while that is valid. Rejects with a `WpsAuthError`: a refresh
   * WPS refused signs the user out (`login_required`); `wps_unavailable` or `wps_timeout` keep the old tokens.
   */
  refresh(): Promise<string>;
  /** Forgets the tokens and regenerates the session id. */
  logout(): Promise<void>;
  /**
   * An axios instance for the WPS API (`baseUrl`, so pass paths such as `/v7/users/current`). Each request gets
   * `Authorization: Bearer <fresh token>` (refreshed first when needed, serialized with every other refresh of this
   * session), a 401 from WPS is answered by one refresh and one retry, and failures — a non-2xx status or a
   * `{ code ≠ 0 }` envelope — reject with a `WpsApiError`. Signed with KSO-1 when `signRequests` is on.
   * @example
   * import express from 'express';
   * import { requireWpsToken } from 'express-wps-oauth';
   *
   * const app = express();
   * app.get('/me', requireWpsToken(), async (req, res, next) => {
   *   try {
   *     const { data } = await req.wps.api.get('/v7/users/current');
   *     res.json(data);
   *   } catch (err) {
   *     next(err);
   *   }
   * });
   */
  readonly api: AxiosInstance;
  /**
   * The signed-in user's profile from the session, or `undefined` when signed out or not fetched (yet). See
   * `getUser()` to fetch it when missing.
   */
  readonly user: WpsUser | undefined;
  /**
   * Resolves with the signed-in user's profile, fetching it (and storing it in the session) when missing — e.g.
   * when the fetch at login failed. Rejects like `api` calls do, or with `login_required` when signed out.
   */
  getUser(): Promise<WpsUser>;
  /**
   * With `wpsAuth({ tenants })`: the client of the signed-in user's company (`tenants.client(user.companyId)`), to
   * call WPS as that company; `undefined` when signed out, when the profile has no company, or without `tenants`.
   */
  readonly tenant: WpsTenantClient | undefined;
}

/**
 * A customer company's install state, as the last `kso.developer.application.authorization.status` event set it:
 * `'installed'` (`create`), `'uninstalled'` (`delete`), `'enabled'`, `'disabled'`; `'unknown'` for a company never
 * seen in such an event (e.g. one that installed the app before it listened), which may be called.
 */
export type WpsTenantStatus = 'installed' | 'uninstalled' | 'enabled' | 'disabled' | 'unknown';

/** Calls WPS as one customer company of a marketplace (ISV) app: what `tenants.client(companyId)` returns. */
export interface WpsTenantClient {
  /** The company this client acts for (`company_id`). */
  readonly companyId: string;
  /**
   * Resolves with the company's tenant access token: the one cached in the tenant store while it is valid for more
   * than `refreshSkewSeconds`, else a new one (one request per company at a time, across instances that share the
   * store). Rejects with a `WpsTenantError` (`tenant_not_installed`, `ticket_unavailable`), or a `WpsAuthError`
   * (`wps_rejected`, `wps_unavailable`, `wps_timeout`, `store_unavailable`).
   */
  getTenantAccessToken(): Promise<string>;
  /**
   * An axios instance for the WPS API as the company, shaped like `req.wps.api`: the tenant token as bearer, one new
   * token and one retry on a 401, `WpsApiError` on failure, KSO-1 signing when `signRequests` is on.
   */
  readonly api: AxiosInstance;
}

/**
 * What `wpsTenants()` returns: one per app (APPID), shared by `wpsEvents({ tenants })`, `wpsAuth({ tenants })` and
 * your own code.
 */
export interface WpsTenants {
  /** The APPID these tenants belong to (`wpsEvents` and `wpsAuth` check that they share it). */
  readonly clientId: string;
  /**
   * The client for the company `companyId` (`data.company_id` of `/v7/users/current`, or of an event). Made once per
   * company and kept; it checks the company's install state at each call. Throws a `TypeError` for an id that is not
   * a non-empty string of at most 256 characters.
   */
  client(companyId: string): WpsTenantClient;
  /** The company's install state in the tenant store (see {@link WpsTenantStatus}). */
  status(companyId: string): Promise<WpsTenantStatus>;
}

declare module 'express-session' {
  interface SessionData {
    /**
     * Reserved for express-wps-oauth: its record of this session (tokens, pending sign-ins, the profile), in a
     * private stored form that may change in any release. Don't read or write it — everything an app needs is on
     * `req.wps`.
     */
    wpsAuth?: unknown;
  }
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The WPS sign-in context, set by `wpsAuth()` on every request. */
      wps: WpsContext;
    }
  }
}
