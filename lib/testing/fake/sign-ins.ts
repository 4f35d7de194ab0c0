import type { IncomingMessage } from 'node:http';
import { invalidRequest } from './errors';
import { requirePositiveInteger, type FakeWpsUser } from './options';
import { randomPart, type FakeState, type Grant } from './state';

/**
 * Settings for one sign-in, registered with {@link FakeWps.prepareSignIn}: the user and token lifetimes that this
 * authorization grants, in place of the fake's options, so one fake can sign in several users.
 */
export interface FakeSignIn {
  /**
   * Overrides of the configured user for this sign-in: `GET /v7/users/current` answers with them for every access
   * token of the sign-in, refreshed ones included, and the consent page shows this name.
   * @default the fake's `user`
   */
  user?: Partial<FakeWpsUser> | undefined;
  /**
   * Lifetime of this sign-in's access tokens, in whole seconds — the first and every refreshed one.
   * @default the fake's `accessTokenTtlSeconds` when each token is issued
   */
  accessTokenTtlSeconds?: number | undefined;
  /**
   * Lifetime of this sign-in's refresh tokens, in whole seconds — the first and every rotated one.
   * @default the fake's `refreshTokenTtlSeconds`
   */
  refreshTokenTtlSeconds?: number | undefined;
}

/** The request header that names a sign-in prepared with {@link FakeWps.prepareSignIn}, on `GET /oauth2/auth`. */
export const FAKE_SIGN_IN_HEADER = 'x-fake-wps-sign-in';

/** What `signIn` grants, its lifetimes validated now so that a bad one fails the test at once (named by `caller`). */
export function grantOf(state: FakeState, signIn: FakeSignIn, caller: string): Grant {
  const ttl = (name: 'accessTokenTtlSeconds' | 'refreshTokenTtlSeconds') => {
    const value = signIn[name];
    return value === undefined ? undefined : requirePositiveInteger(name, value, caller);
  };
  return {
    user: { ...state.settings.user, ...signIn.user },
    accessTokenTtlSeconds: ttl('accessTokenTtlSeconds'),
    refreshTokenTtlSeconds: ttl('refreshTokenTtlSeconds'),
  };
}

/** `prepareSignIn()`: validate the sign-in's lifetimes now, register it, and return its one-time ticket. */
export function prepareSignIn(state: FakeState, signIn: FakeSignIn): string {
  const ticket = randomPart(16);
  state.signIns.set(ticket, grantOf(state, signIn, 'prepareSignIn'));
  return ticket;
}

/** The sign-in named by the request's `X-Fake-Wps-Sign-In` header, used up; `undefined` without the header. */
export function takeSignIn(state: FakeState, req: IncomingMessage): Grant | undefined {
  const ticket = req.headers[FAKE_SIGN_IN_HEADER];
  if (ticket === undefined) return undefined;
  const grant = typeof ticket === 'string' ? state.signIns.get(ticket) : undefined;
  if (grant === undefined) {
    throw invalidRequest("'X-Fake-Wps-Sign-In' header names no prepared sign-in (unknown, or already used)");
  }
  state.signIns.delete(String(ticket));
  return grant;
}
