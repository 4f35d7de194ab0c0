import { sendWpsEvent, type WpsEventReply, type WpsEventToSend } from '../send-event';
import { registerAuthorize } from './authorize';
import { BRIDGE_SCRIPT_PATH, clientCode, registerClientBridge } from './client-bridge';
import { queueFault, type FakeFault } from './faults';
import { expireAccessTokens, issueUserTokens, type FakeTokenPair } from './issue';
import { registerMarketplace } from './marketplace';
import { marketplaceHandle, type FakeMarketplace } from './marketplace-handle';
import {
  applyRuntimeOptions,
  resolveSettings,
  type FakeWpsOptions,
  type FakeWpsRuntimeOptions,
  type FakeWpsUser,
} from './options';
import { RouteRegistry } from './routes';
import { startServer, type RecordedRequest } from './server';
import { prepareSignIn, type FakeSignIn } from './sign-ins';
import { createFakeState, forgetRequestsAndFaults, type FakeState } from './state';
import { registerTokenEndpoint, tokenRequestsIn } from './token-endpoint';
import { apiRequestsIn, registerUserApi } from './user-api';

/** A running fake WPS 365 server and the handles tests use to inspect and steer it. */
export interface FakeWps {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:54321`; pass it as `baseUrl`. */
  url: string;
  /** Every request received, in order; `reset()` empties this same array. */
  requests: RecordedRequest[];
  /** The `POST /oauth2/token` requests, optionally only those with this `grant_type`. */
  tokenRequests(grantType?: string): RecordedRequest[];
  /**
   * Apply `fault` to the next `times` `POST /oauth2/token` calls; queued faults are used first-in first-out.
   * @default times 1
   */
  queueTokenFault(fault: FakeFault, times?: number): void;
  /** The `/v7/*` API requests, optionally only those to this exact path (without the query string). */
  apiRequests(path?: string): RecordedRequest[];
  /**
   * Apply `fault` to the next `times` `/v7/*` requests (any path, before the token and signature checks);
   * queued faults are used first-in first-out. For instance `{ status: 200, body: { code: 40300001, msg: 'x' } }`
   * makes WPS's error envelope, and `{ status: 401, body: { code: 40100001, msg: 'invalid_token' } }` refuses a
   * still-valid access token.
   * @default times 1
   */
  queueApiFault(fault: FakeFault, times?: number): void;
  /** Issue a valid token pair for the configured user without the browser flow. */
  mintTokens(opts?: { accessTokenTtlSeconds?: number; refreshTokenTtlSeconds?: number }): FakeTokenPair;
  /**
   * Register the user and token lifetimes of one upcoming sign-in, and get a one-time ticket for it. Send the
   * ticket as the `X-Fake-Wps-Sign-In` header of that sign-in's `GET /oauth2/auth` (an unknown or used ticket is
   * refused with 400 `invalid_request`): the code issued for it, and every token issued from that code, refreshed
   * ones included, belong to this user and live this long. Without the header a sign-in gets the fake's options.
   * `signedInAgent()` does this for you.
   *
   * @example
   * import { startFakeWps } from 'express-wps-oauth/testing';
   *
   * const fake = await startFakeWps();
   * const ticket = fake.prepareSignIn({ user: { name: 'Ada' }, accessTokenTtlSeconds: 60 });
   * // The authorize URL your app's login route redirected to, as a browser would follow it:
   * const query = new URLSearchParams({
   *   response_type: 'code',
   *   client_id: 'test-client-id',
   *   redirect_uri: 'http://127.0.0.1:3000/auth/wps/callback',
   *   scope: 'kso.user_base.read',
   *   state: 's',
   * });
   * const authorizeUrl = `${fake.url}/oauth2/auth?${query.toString()}`;
   * const back = await fetch(authorizeUrl, { redirect: 'manual', headers: { 'X-Fake-Wps-Sign-In': ticket } });
   * console.log(back.headers.get('location')); // the callback, with a code for Ada
   */
  prepareSignIn(signIn: FakeSignIn): string;
  /**
   * A code as the WPS client's JS bridge hands one to `ksoxz_sdk.requestAccess` (免登), without a browser: single
   * use, valid for `codeTtlSeconds`, for the fake's user with `user`'s fields over it (and these token lifetimes,
   * refreshed tokens included). Bound to no callback: the exchange may name any registered `redirect_uri`. Post it
   * to the app's client sign-in route.
   *
   * @example
   * import express from 'express';
   * import session from 'express-session';
   * import request from 'supertest';
   * import { wpsAuth } from 'express-wps-oauth';
   * import { startFakeWps } from 'express-wps-oauth/testing';
   *
   * const fake = await startFakeWps();
   * const app = express();
   * app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
   * const redirectUri = 'http://127.0.0.1/auth/wps/callback';
   * app.use(wpsAuth({ clientId: 'test-client-id', clientSecret: 'test-client-secret', baseUrl: fake.url, redirectUri }));
   * const code = fake.clientCode({ name: 'Ada' });
   * await request(app).post('/auth/wps/client-sign-in').set('Origin', 'http://127.0.0.1').send({ code }).expect(200);
   */
  clientCode(user?: Partial<FakeWpsUser>, lifetimes?: Omit<FakeSignIn, 'user'>): string;
  /**
   * The URL of a stub of the WPS client's JS bridge: a script defining `window.ksoxz_sdk` with `ready(cb)` and
   * `requestAccess({ params: { app_id, scope_list }, onSuccess, onError })`, which asks this fake for a fresh code
   * per call (for the fake's `user`; `app_id` must be its `clientId`). With `clientAccess: 'deny'` (an option, or
   * `setOptions`) the user refuses and `onError` gets `{ code, msg: 'access_denied' }`. Load it before the app's
   * client sign-in script to test a page "as if inside WPS" in a real browser.
   */
  bridgeScriptUrl: string;
  /** Make every access token issued so far expired now (refresh tokens stay valid). */
  expireAccessTokens(): void;
  /**
   * Change latency, access-token lifetime, rotation, consent mode, the client bridge's answer or strict signing for
   * later requests.
   */
  setOptions(patch: FakeWpsRuntimeOptions): void;
  /** Forget recorded requests, queued faults and pushed events; issued codes, tokens and tickets stay valid. */
  reset(): void;
  /** Stop the server and destroy every open socket, hanging ones included; safe to call twice. */
  close(): Promise<void>;
  /**
   * Push an event to the app's event `url` as WPS does, signed and encrypted with this fake's clientId and
   * clientSecret (see `sendWpsEvent`).
   */
  sendEvent(url: string, event: WpsEventToSend): Promise<WpsEventReply>;
  /**
   * The marketplace (ISV) mode: companies installing and removing the app, app tickets pushed to the app's event
   * URLs, and what the app asked (see {@link FakeMarketplace}).
   */
  readonly marketplace: FakeMarketplace;
}

/** The fake's modules, each adding its routes (and guards) to the registry over the shared state; see RouteRegistry. */
const MODULES: readonly ((routes: RouteRegistry, state: FakeState) => void)[] = [
  registerAuthorize,
  registerTokenEndpoint,
  registerUserApi,
  registerClientBridge,
  registerMarketplace,
];

/**
 * Start a strict local imitation of the WPS 365 OAuth endpoints on 127.0.0.1 (random port), so apps can test
 * sign-in, refresh and failure handling without the real platform.
 *
 * @example
 * import express from 'express';
 * import session from 'express-session';
 * import { wpsAuth } from 'express-wps-oauth';
 * import { startFakeWps } from 'express-wps-oauth/testing';
 *
 * const fake = await startFakeWps({ redirectUris: ['http://localhost:3000/auth/wps/callback'] });
 * const app = express();
 * app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
 * app.use(
 *   wpsAuth({
 *     baseUrl: fake.url,
 *     clientId: 'test-client-id',
 *     clientSecret: 'test-client-secret',
 *     redirectUri: 'http://localhost:3000/auth/wps/callback',
 *   }),
 * );
 * // … tests, then:
 * await fake.close();
 */
export async function startFakeWps(options: FakeWpsOptions = {}): Promise<FakeWps> {
  const settings = resolveSettings(options);
  const state = createFakeState(settings);
  const routes = new RouteRegistry();
  for (const register of MODULES) register(routes, state);
  const server = await startServer({ routes, requests: state.requests, timers: state.timers });
  return {
    url: server.url,
    requests: state.requests,
    tokenRequests: (grantType) => tokenRequestsIn(state.requests, grantType),
    queueTokenFault: (fault, times = 1) => queueFault(state.tokenFaults, 'queueTokenFault', fault, times),
    apiRequests: (path) => apiRequestsIn(state.requests, path),
    queueApiFault: (fault, times = 1) => queueFault(state.apiFaults, 'queueApiFault', fault, times),
    mintTokens: (opts = {}) =>
      issueUserTokens(state, undefined, opts.accessTokenTtlSeconds, opts.refreshTokenTtlSeconds),
    prepareSignIn: (signIn) => prepareSignIn(state, signIn),
    clientCode: (user, lifetimes) => clientCode(state, user, lifetimes),
    bridgeScriptUrl: `${server.url}${BRIDGE_SCRIPT_PATH}`,
    expireAccessTokens: () => expireAccessTokens(state),
    setOptions: (patch) => applyRuntimeOptions(settings, patch),
    reset: () => forgetRequestsAndFaults(state),
    close: () => server.close(),
    sendEvent: (eventUrl, event) => sendWpsEvent(eventUrl, event, settings),
    marketplace: marketplaceHandle(state),
  };
}
