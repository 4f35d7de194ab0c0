import { randomBytes } from 'node:crypto';
import type { FakeFault } from './faults';
import { createMarketplaceState, type MarketplaceState } from './marketplace-state';
import type { FakeSettings, FakeWpsUser } from './options';
import type { RecordedRequest } from './server';
import { FakeTimers } from './timers';

/** What one sign-in was granted: its user, and lifetimes that replace the fake's when set. */
export interface Grant {
  user: FakeWpsUser;
  accessTokenTtlSeconds: number | undefined;
  refreshTokenTtlSeconds: number | undefined;
}

/** A validated `GET /oauth2/auth`, kept while its consent page is open and, once allowed, with its code. */
export interface AuthorizationRequest {
  redirectUri: string;
  scope: string;
  state: string | undefined;
  /** The prepared sign-in named by the request, if any. */
  grant: Grant | undefined;
}

/** Anything the fake issues with a lifetime, on the fake's clock. */
export interface Expiring {
  expiresAt: number;
}

/** An issued authorization code, until the token endpoint redeems it. */
export interface IssuedCode extends Expiring {
  /**
   * The callback of the authorization the code was issued for, which the exchange must name again; `undefined` for
   * a code of the client bridge (`requestAccess`), which any registered callback redeems.
   */
  redirectUri: string | undefined;
  scope: string;
  grant: Grant | undefined;
}

/** An issued access token: a user's (with its sign-in) or the app's own. */
export interface AccessTokenRecord extends Expiring {
  kind: 'user' | 'app';
  grant?: Grant | undefined;
}

/** An issued refresh token and the sign-in it continues. */
export interface RefreshTokenRecord extends Expiring {
  grant: Grant | undefined;
}

/**
 * Everything one running fake remembers, shared by its modules: each module reads and writes only the parts its
 * endpoints own (codes: authorize and token; tokens: token and user API), so no module holds another's state.
 */
export interface FakeState {
  /** The validated options; `setOptions` changes the runtime ones in place. */
  readonly settings: FakeSettings;
  /** Every request received, in order; the handle's `requests` is this same array. */
  readonly requests: RecordedRequest[];
  /** Every pending timer, stopped by `close()`. */
  readonly timers: FakeTimers;
  /** Faults queued for `POST /oauth2/token`, first-in first-out. */
  readonly tokenFaults: FakeFault[];
  /** Faults queued for `/v7/*`, first-in first-out. */
  readonly apiFaults: FakeFault[];
  /** Authorization codes issued (by the authorize page or the client bridge) and not yet used. */
  readonly codes: Map<string, IssuedCode>;
  /** Authorizations waiting on the consent page, by request id. */
  readonly pendingConsents: Map<string, AuthorizationRequest & Expiring>;
  /** Access tokens issued (expired ones included). */
  readonly accessTokens: Map<string, AccessTokenRecord>;
  /** Refresh tokens issued and not yet rotated. */
  readonly refreshTokens: Map<string, RefreshTokenRecord>;
  /** Sign-ins prepared with `prepareSignIn`, by ticket, until a `GET /oauth2/auth` uses them. */
  readonly signIns: Map<string, Grant>;
  /** The marketplace (ISV) mode: tickets, companies, tenant tokens, pushed events. */
  readonly marketplace: MarketplaceState;
  /** The fake's time, for the lifetimes of codes and tokens: the test clock when one was given. */
  now(): number;
}

/** A fresh state for a fake started with `settings`: nothing issued, nothing recorded. */
export function createFakeState(settings: FakeSettings): FakeState {
  return {
    settings,
    requests: [],
    timers: new FakeTimers(),
    tokenFaults: [],
    apiFaults: [],
    codes: new Map(),
    pendingConsents: new Map(),
    accessTokens: new Map(),
    refreshTokens: new Map(),
    signIns: new Map(),
    marketplace: createMarketplaceState(settings.marketplace),
    now: () => settings.clock.now(),
  };
}

/** `reset()`: forget recorded requests, queued faults and pushed events; issued codes, tokens and tickets stay valid. */
export function forgetRequestsAndFaults(state: FakeState): void {
  state.requests.length = 0;
  state.tokenFaults.length = 0;
  state.apiFaults.length = 0;
  state.marketplace.pushes.length = 0;
}

/** Whether a code, token or consent has outlived its lifetime at `now`. */
export function isExpired(record: Expiring, now: number): boolean {
  return record.expiresAt <= now;
}

/** Whole seconds a record has left, rounded up, as `refresh_expires_in` reports them. */
export function secondsLeft(record: Expiring, now: number): number {
  return Math.max(0, Math.ceil((record.expiresAt - now) / 1000));
}

/** A random URL-safe string from `bytes` random bytes, for codes, tokens, tickets and request ids. */
export function randomPart(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}
