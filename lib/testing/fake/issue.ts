import { requirePositiveInteger } from './options';
import {
  randomPart,
  type AccessTokenRecord,
  type AuthorizationRequest,
  type FakeState,
  type Grant,
  type IssuedCode,
} from './state';

/** A token pair issued by {@link FakeWps.mintTokens}. */
export interface FakeTokenPair {
  /** An access token the fake's `/v7/*` endpoints accept until it expires. */
  access_token: string;
  /** A refresh token the fake's `/oauth2/token` accepts once (it rotates). */
  refresh_token: string;
  /** Lifetime of the access token, in seconds. */
  expires_in: number;
  /** Lifetime of the refresh token, in seconds. */
  refresh_expires_in: number;
  /** Always `'bearer'`. */
  token_type: 'bearer';
}

/** A single-use authorization code, valid for `codeTtlSeconds`, shaped like WPS's; the token endpoint redeems it. */
function issue(state: FakeState, code: Omit<IssuedCode, 'expiresAt'>): string {
  const value = `kso_ac_${randomPart(16)}.${randomPart(16)}`;
  state.codes.set(value, { ...code, expiresAt: state.now() + state.settings.codeTtlSeconds * 1000 });
  return value;
}

/** The code the authorize page redirects back with, bound to the request's `redirect_uri`. */
export function issueCode(state: FakeState, request: AuthorizationRequest): string {
  return issue(state, { redirectUri: request.redirectUri, scope: request.scope, grant: request.grant });
}

/**
 * A code as the WPS client's bridge hands one to `requestAccess`: no redirect took place, so it is bound to no
 * callback, and the exchange may name any registered one.
 */
export function issueClientCode(state: FakeState, scope: string, grant: Grant | undefined): string {
  return issue(state, { redirectUri: undefined, scope, grant });
}

/** An access token the `/v7/*` endpoints accept for `ttlSeconds`: a user's (of `grant`) or the app's own. */
export function issueAccessToken(
  state: FakeState,
  kind: AccessTokenRecord['kind'],
  ttlSeconds: number,
  grant?: Grant,
): string {
  const token = `fake_at_${randomPart(32)}`;
  state.accessTokens.set(token, { kind, expiresAt: state.now() + ttlSeconds * 1000, grant });
  return token;
}

/** A token pair for `grant` (the fake's own user without one); explicit lifetimes win over the grant's. */
export function issueUserTokens(
  state: FakeState,
  grant: Grant | undefined,
  accessTtlSeconds?: number,
  refreshTtlSeconds?: number,
): FakeTokenPair {
  const accessTtl = requirePositiveInteger(
    'accessTokenTtlSeconds',
    accessTtlSeconds ?? grant?.accessTokenTtlSeconds ?? state.settings.accessTokenTtlSeconds,
  );
  const refreshTtl = requirePositiveInteger(
    'refreshTokenTtlSeconds',
    refreshTtlSeconds ?? grant?.refreshTokenTtlSeconds ?? state.settings.refreshTokenTtlSeconds,
  );
  const refreshToken = `kso_rt_${randomPart(32)}`;
  state.refreshTokens.set(refreshToken, { expiresAt: state.now() + refreshTtl * 1000, grant });
  return {
    access_token: issueAccessToken(state, 'user', accessTtl, grant),
    expires_in: accessTtl,
    refresh_token: refreshToken,
    refresh_expires_in: refreshTtl,
    token_type: 'bearer',
  };
}

/** `expireAccessTokens()`: every access token issued so far expires now; refresh tokens stay valid. */
export function expireAccessTokens(state: FakeState): void {
  const now = state.now();
  for (const record of state.accessTokens.values()) record.expiresAt = Math.min(record.expiresAt, now);
}
