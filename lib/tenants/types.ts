import type { WpsClock } from '../clock';
import type { WpsLogger } from '../types';

/** What an install-state hook is told about the event, besides the company. */
export interface WpsTenantEventInfo {
  /** The app version the company installed (`data.version`), when WPS sent one. */
  version: string | undefined;
  /** When WPS sent the event. */
  time: Date;
}

/**
 * Runs once per install-state event across instances (a re-delivery included), after the company's new state is
 * stored. Throw to have WPS deliver the event again (the answer is 500; the state stays stored, and the hook runs
 * again on the re-delivery).
 */
export type WpsTenantHook = (companyId: string, info: WpsTenantEventInfo) => unknown;

/** A company's install state as stored, and the time (whole seconds) of the event that set it. */
export interface StoredTenantState {
  /** `'installed'`, `'uninstalled'`, `'enabled'` or `'disabled'`. */
  state: string;
  /** The event's `time`, in whole seconds: an older event never overwrites a newer one. */
  time: number;
}

/** The newest app ticket as a tenant store holds it. */
export interface StoredTicket {
  /** The ticket as stored (sealed with a key, or not): opaque to the store. */
  value: string;
  /** The event's `time`, in whole seconds: an older ticket never replaces a newer one. */
  time: number;
}

/** What a tenant store holds for one company, read at once. Values are opaque strings (sealed with a key, or not). */
export interface StoredTenantCompany {
  /** The install state, when an event set one. */
  state?: StoredTenantState | undefined;
  /** The cached tenant token, as stored. */
  token?: string | undefined;
  /** A digest of the app ticket WPS refused this company's token with even after a new push. */
  refusal?: string | undefined;
}

/**
 * Where `wpsTenants` keeps what every instance must share: the newest app ticket, each company's tenant token and
 * install state, the locks that make one token request per company at a time, and the claims that limit pushes and
 * dedupe events. Use `redisTenantStore(client)`, or nothing for one instance. Every value written expires; values
 * are opaque strings, never parsed by the store. The methods are the contract `wpsTenants` relies on — implement it
 * only to keep tenants somewhere other than Redis, and keep each method atomic.
 */
export interface WpsTenantStore {
  /** The newest app ticket as stored, and its event time (whole seconds); `undefined` when none. */
  getTicket(): Promise<StoredTicket | undefined>;
  /** Store the ticket unless one with a later `time` is stored. Resolves `true` when stored. */
  putTicket(value: string, time: number, ttlMs: number): Promise<boolean>;
  /** The company's state, token and refusal, in one read. */
  getCompany(companyId: string): Promise<StoredTenantCompany>;
  /**
   * Store the company's state unless one with a later `time` is stored, and then drop its token and refusal.
   * Resolves `true` when stored.
   */
  putState(companyId: string, state: StoredTenantState, ttlMs: number): Promise<boolean>;
  /** Store the company's tenant token. */
  putToken(companyId: string, value: string, ttlMs: number): Promise<void>;
  /** Drop the company's token only if it is still `value` (another instance may have stored a newer one). */
  dropToken(companyId: string, value: string): Promise<void>;
  /** Remember that WPS refused this company's token with the ticket of digest `value`. */
  putRefusal(companyId: string, value: string, ttlMs: number): Promise<void>;
  /** Take `key` for `owner` unless somebody holds it (SET NX). Resolves `true` when taken. */
  claim(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Give `key` up, only if `owner` still holds it. */
  release(key: string, owner: string): Promise<void>;
}

/** Options of {@link wpsTenants}. Every option is validated once, when `wpsTenants()` is called. */
export interface WpsTenantsOptions {
  /**
   * The marketplace app's APPID.
   * @default process.env.WPS_CLIENT_ID
   */
  clientId?: string | undefined;
  /**
   * The app's APPKEY. Never appears in any message, log, error or response.
   * @default process.env.WPS_CLIENT_SECRET
   */
  clientSecret?: string | undefined;
  /**
   * Origin of `/oauth2/*` and the v7 API. Point it at the fake WPS in tests.
   * @default 'https://openapi.wps.cn'
   */
  baseUrl?: string | undefined;
  /**
   * Shared by every instance of the app: `redisTenantStore(client)`. The default lives in this process, so it is
   * right for one instance only (a ticket pushed to another instance would never reach this one).
   * @default in-process
   */
  store?: WpsTenantStore | undefined;
  /**
   * How long a call waits for an app ticket to arrive (a cold start, or a push asked for after WPS refused the
   * stored one) before failing with `ticket_unavailable` (503). A whole number of ms, 1 to 120000.
   * @default 10000
   */
  ticketWaitMs?: number | undefined;
  /**
   * Get a new tenant token this many seconds before the cached one expires (at most half its lifetime).
   * @default 60
   */
  refreshSkewSeconds?: number | undefined;
  /**
   * Limit, in milliseconds, for each call to WPS.
   * @default 10000
   */
  timeoutMs?: number | undefined;
  /**
   * Encrypt tickets and tenant tokens in the store (AES-256-GCM, bound to what they are for), as `wpsAuth`'s
   * option of the same name does for user tokens: a string of at least 32 random characters, a 32-byte Buffer, or
   * a list (the first encrypts, every one decrypts). A value no key opens counts as absent.
   * @default none (stored as they are)
   */
  tokenEncryptionKey?: string | Buffer | Array<string | Buffer> | undefined;
  /**
   * Sign every `api` request with KSO-1 (needed only when API signing is on for the app).
   * @default false
   */
  signRequests?: boolean | undefined;
  /**
   * Receives what the tenants have to say: tickets stored, pushes asked for, install states (never a ticket, a
   * token or the APPKEY).
   * @default silent
   */
  logger?: WpsLogger | undefined;
  /**
   * Where token expiry is read. Tests pass `createTestClock()` from `express-wps-oauth/testing`.
   * @default systemClock
   */
  clock?: WpsClock | undefined;
  /** A company installed the app (`create`). */
  onInstall?: WpsTenantHook | undefined;
  /** A company removed the app (`delete`): its calls now fail with `tenant_not_installed`. */
  onUninstall?: WpsTenantHook | undefined;
  /** A company enabled the app again (`enable`). */
  onEnable?: WpsTenantHook | undefined;
  /** A company disabled the app (`disable`): its calls now fail with `tenant_not_installed`. */
  onDisable?: WpsTenantHook | undefined;
}

/** An event as the tenants' handlers read it (a `WpsEvent` fits). Internal. */
export interface TenantEvent {
  topic: string;
  operation: string;
  time: Date;
  data: unknown;
}
