import { systemClock, type WpsClock } from '../../clock';
import { resolveMarketplace, type FakeMarketplaceOptions, type MarketplaceSettings } from './marketplace-state';
import { isHttpUrl } from './params';

/** The signed-in user the fake answers with on `GET /v7/users/current`, so tests can assert on known values. */
export interface FakeWpsUser {
  /** Sent as `data.id`. */
  id: string;
  /** Sent as `data.user_name` and shown on the consent page. */
  name: string;
  /** Sent as `data.avatar`. */
  avatar: string;
  /** Sent as `data.company_id`. */
  companyId: string;
}

/** Configuration of the fake WPS 365 server; every field has a default so `startFakeWps()` just works. */
export interface FakeWpsOptions {
  /**
   * The only APPID the fake accepts.
   * @default 'test-client-id'
   */
  clientId?: string | undefined;
  /**
   * The only APPKEY the fake accepts.
   * @default 'test-client-secret'
   */
  clientSecret?: string | undefined;
  /**
   * Callbacks registered "in the console"; `redirect_uri` must equal one of them exactly.
   * @default undefined — any absolute http(s) URL is accepted
   */
  redirectUris?: string[] | undefined;
  /**
   * `'auto'` redirects straight back with a code; `'page'` serves an HTML consent page with Allow/Deny buttons
   * (ids `wps-allow`, `wps-deny`) for browser-driven tests.
   * @default 'auto'
   */
  consent?: 'auto' | 'page' | undefined;
  /**
   * Overrides for the signed-in user.
   * @default { id: 'fake-user-1', name: 'Demo User', avatar: 'https://example.invalid/avatar.png', companyId: 'fake-company-1' }
   */
  user?: Partial<FakeWpsUser> | undefined;
  /**
   * What the user answers when a page asks the stub client bridge (`bridgeScriptUrl`) for a code: `'allow'` mints
   * one (`onSuccess({ code })`), `'deny'` refuses (`onError`), as a user who declines the app in the WPS client.
   * @default 'allow'
   */
  clientAccess?: 'allow' | 'deny' | undefined;
  /**
   * Lifetime of issued access tokens, in whole seconds.
   * @default 7200
   */
  accessTokenTtlSeconds?: number | undefined;
  /**
   * Lifetime of issued refresh tokens, in whole seconds.
   * @default 2592000
   */
  refreshTokenTtlSeconds?: number | undefined;
  /**
   * Lifetime of authorization codes, in whole seconds (the platform uses 10 minutes).
   * @default 600
   */
  codeTtlSeconds?: number | undefined;
  /**
   * Delay before answering every `POST /oauth2/token`, to exercise timeouts and refresh races.
   * @default 0
   */
  tokenLatencyMs?: number | undefined;
  /**
   * Whether each refresh returns a new refresh token and kills the old one at once, as the platform does.
   * @default true
   */
  rotateRefreshTokens?: boolean | undefined;
  /**
   * Send `refresh_expires_in` as a numeric string, as the platform's docs type it.
   * @default false
   */
  refreshExpiresInAsString?: boolean | undefined;
  /**
   * Strict KSO-1 mode, as for an app that switched API signing on: every `/v7/*` request must carry `X-Kso-Date`
   * (RFC 1123, at most 15 minutes off) and `X-Kso-Authorization: KSO-1 <APPID>:<hex HMAC-SHA256(APPKEY, "KSO-1" +
   * METHOD + REQUEST_URI + CONTENT_TYPE + X-Kso-Date + sha256hex(body))>` (body hash `''` without a body), else it
   * gets 401 `{ code: 40100002, msg: 'invalid_signature' }`.
   * @default false
   */
  requireSignature?: boolean | undefined;
  /**
   * Where the fake reads the time for the lifetimes of codes and tokens: give it the same `createTestClock()` as
   * the app, and `clock.advance()` ages both sides at once.
   * @default systemClock
   */
  clock?: WpsClock | undefined;
  /**
   * The marketplace (ISV) mode's companies and event URLs: see `FakeWps.marketplace`. Without it the mode still
   * serves `ticket/active` and tenant tokens, for companies installed later with `marketplace.install()`.
   * @default no company, no event URL
   */
  marketplace?: FakeMarketplaceOptions | undefined;
}

/** Options {@link FakeWps.setOptions} may change while the server runs. */
export type FakeWpsRuntimeOptions = Partial<
  Pick<
    FakeWpsOptions,
    'tokenLatencyMs' | 'accessTokenTtlSeconds' | 'rotateRefreshTokens' | 'consent' | 'clientAccess' | 'requireSignature'
  >
>;

/** The fake's options with every default filled in, validated once; `setOptions` changes the runtime ones in place. */
export interface FakeSettings {
  clientId: string;
  clientSecret: string;
  redirectUris: string[] | undefined;
  consent: 'auto' | 'page';
  clientAccess: 'allow' | 'deny';
  user: FakeWpsUser;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  codeTtlSeconds: number;
  tokenLatencyMs: number;
  rotateRefreshTokens: boolean;
  refreshExpiresInAsString: boolean;
  requireSignature: boolean;
  clock: WpsClock;
  marketplace: MarketplaceSettings;
}

const DEFAULT_USER: FakeWpsUser = {
  id: 'fake-user-1',
  name: 'Demo User',
  avatar: 'https://example.invalid/avatar.png',
  companyId: 'fake-company-1',
};

/**
 * Lifetimes go on the wire as whole seconds, so a fraction or zero is a mistake in the test, named at once;
 * `caller` (`startFakeWps` unless given) starts the message.
 */
export function requirePositiveInteger(name: string, value: number, caller = 'startFakeWps'): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${caller}: '${name}' must be a positive whole number of seconds, got ${String(value)}`);
  }
  return value;
}

function requireNonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`startFakeWps: '${name}' must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

function requireNonEmptyString(name: string, value: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`startFakeWps: '${name}' must be a non-empty string`);
  }
  return value;
}

function requireConsent(value: string): 'auto' | 'page' {
  if (value !== 'auto' && value !== 'page') {
    throw new TypeError(`startFakeWps: 'consent' must be 'auto' or 'page', got ${JSON.stringify(value)}`);
  }
  return value;
}

function requireClientAccess(value: string): 'allow' | 'deny' {
  if (value !== 'allow' && value !== 'deny') {
    throw new TypeError(`startFakeWps: 'clientAccess' must be 'allow' or 'deny', got ${JSON.stringify(value)}`);
  }
  return value;
}

function requireRedirectUris(uris: string[] | undefined): string[] | undefined {
  if (uris === undefined) return undefined;
  for (const uri of uris) {
    if (typeof uri !== 'string' || !isHttpUrl(uri)) {
      throw new TypeError(
        `startFakeWps: every entry of 'redirectUris' must be an absolute http(s) URL without a fragment, got ${JSON.stringify(uri)}`,
      );
    }
  }
  return [...uris];
}

/** Validate every option once and fill in the defaults, so no handler checks an option per request. */
export function resolveSettings(options: FakeWpsOptions): FakeSettings {
  return {
    clientId: requireNonEmptyString('clientId', options.clientId ?? 'test-client-id'),
    clientSecret: requireNonEmptyString('clientSecret', options.clientSecret ?? 'test-client-secret'),
    redirectUris: requireRedirectUris(options.redirectUris),
    consent: requireConsent(options.consent ?? 'auto'),
    clientAccess: requireClientAccess(options.clientAccess ?? 'allow'),
    user: { ...DEFAULT_USER, ...options.user },
    accessTokenTtlSeconds: requirePositiveInteger('accessTokenTtlSeconds', options.accessTokenTtlSeconds ?? 7200),
    refreshTokenTtlSeconds: requirePositiveInteger('refreshTokenTtlSeconds', options.refreshTokenTtlSeconds ?? 2592000),
    codeTtlSeconds: requirePositiveInteger('codeTtlSeconds', options.codeTtlSeconds ?? 600),
    tokenLatencyMs: requireNonNegative('tokenLatencyMs', options.tokenLatencyMs ?? 0),
    rotateRefreshTokens: options.rotateRefreshTokens ?? true,
    refreshExpiresInAsString: options.refreshExpiresInAsString ?? false,
    requireSignature: options.requireSignature ?? false,
    clock: options.clock ?? systemClock,
    marketplace: resolveMarketplace(options.marketplace),
  };
}

/** Validate a `setOptions` patch and apply it to the running fake's settings, for the requests that follow. */
export function applyRuntimeOptions(settings: FakeSettings, patch: FakeWpsRuntimeOptions): void {
  if (patch.tokenLatencyMs !== undefined) {
    settings.tokenLatencyMs = requireNonNegative('tokenLatencyMs', patch.tokenLatencyMs);
  }
  if (patch.accessTokenTtlSeconds !== undefined) {
    settings.accessTokenTtlSeconds = requirePositiveInteger('accessTokenTtlSeconds', patch.accessTokenTtlSeconds);
  }
  if (patch.rotateRefreshTokens !== undefined) settings.rotateRefreshTokens = patch.rotateRefreshTokens;
  if (patch.consent !== undefined) settings.consent = requireConsent(patch.consent);
  if (patch.clientAccess !== undefined) settings.clientAccess = requireClientAccess(patch.clientAccess);
  if (patch.requireSignature !== undefined) settings.requireSignature = patch.requireSignature;
}
