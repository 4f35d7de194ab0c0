// Compile-time tests, checked by `tsc --noEmit` (part of `npm test`); Jest does not run this file.
import { expectTypeOf } from 'expect-type';
import {
  createWpsAppClient,
  redisRefreshLock,
  requireWpsToken,
  wpsAuth,
  type RefreshLock,
  type WpsAuthOptions,
  type WpsLogger,
} from '../../lib';
import { createClient } from 'redis';

// Everything is optional (environment variables supply the three required values).
wpsAuth();
wpsAuth({});
wpsAuth({
  clientId: 'id',
  clientSecret: 'secret',
  redirectUri: 'https://app.example.com/auth/wps/callback',
  scope: ['kso.user_base.read'],
  baseUrl: 'https://openapi.wps.cn',
  loginPath: false,
  logoutPath: '/bye',
  defaultReturnTo: '/home',
  refreshSkewSeconds: 30,
  timeoutMs: 5000,
  unauthenticated: 'error',
  maxResponseBytes: 65536,
  maxPendingLogins: 3,
  refreshLock: { acquire: () => Promise.resolve('owner'), release: () => Promise.resolve() },
  logger: console,
});
wpsAuth({ scope: 'kso.user_base.read,kso.calendar.read' });
wpsAuth({ clientSignInPath: '/auth/wps/in-client', trustedOrigins: ['https://portal.example.com'] });
wpsAuth({ clientSignInPath: false, trustedOrigins: [] });

// A pino/winston-style logger fits; so does the console.
expectTypeOf(console).toExtend<WpsLogger>();
expectTypeOf<{ info(msg: string): void }>().not.toExtend<WpsLogger>();

// Unknown keys are refused (typos, other libraries' option names).
// @ts-expect-error unknown option
wpsAuth({ clientSecrett: 'secret' });
// @ts-expect-error unknown option (express-openid-connect's name)
wpsAuth({ issuerBaseURL: 'https://openapi.wps.cn' });
// @ts-expect-error unknown option
requireWpsToken({ redirect: true });

// Wrong types are refused.
// @ts-expect-error a number of seconds, not a string
wpsAuth({ refreshSkewSeconds: '60' });
// @ts-expect-error not one of 'auto' | 'redirect' | 'error'
wpsAuth({ unauthenticated: 'sometimes' });
// @ts-expect-error a path or false, not true
wpsAuth({ loginPath: true });
// @ts-expect-error a path or false, not true
wpsAuth({ clientSignInPath: true });
// @ts-expect-error a list of origins, not one
wpsAuth({ trustedOrigins: 'https://portal.example.com' });
// @ts-expect-error scopes are strings
wpsAuth({ scope: [1, 2] });
// @ts-expect-error a logger needs debug, info, warn and error
wpsAuth({ logger: { info: () => undefined } });
// @ts-expect-error a lock needs acquire and release
wpsAuth({ refreshLock: { acquire: () => Promise.resolve(null) } });
// @ts-expect-error acquire resolves with an owner token or null
const badLock: RefreshLock = { acquire: () => Promise.resolve(true), release: () => Promise.resolve() };
// @ts-expect-error not one of 'auto' | 'redirect' | 'error'
requireWpsToken({ unauthenticated: 'never' });
// @ts-expect-error options are an object
wpsAuth('client-id');

expectTypeOf<WpsAuthOptions['unauthenticated']>().toEqualTypeOf<'auto' | 'redirect' | 'error' | undefined>();
expectTypeOf<WpsAuthOptions['loginPath']>().toEqualTypeOf<string | false | undefined>();
expectTypeOf(badLock).toEqualTypeOf<RefreshLock>();

// tsconfig.json sets exactOptionalPropertyTypes (as `tsc --init` does): every option the runtime defaults — from
// an environment variable or a built-in default — also takes `undefined`, so `process.env.X` can be passed as is.
declare const maybeString: string | undefined;
declare const maybeNumber: number | undefined;
wpsAuth({
  clientId: process.env.WPS_CLIENT_ID,
  clientSecret: process.env.WPS_CLIENT_SECRET,
  redirectUri: process.env.WPS_REDIRECT_URI,
  tokenEncryptionKey: process.env.WPS_TOKEN_KEY,
  baseUrl: maybeString,
  scope: maybeString,
  loginPath: maybeString,
  logoutPath: maybeString,
  defaultReturnTo: maybeString,
  refreshSkewSeconds: maybeNumber,
  timeoutMs: maybeNumber,
  unauthenticated: undefined,
  maxResponseBytes: maybeNumber,
  maxPendingLogins: maybeNumber,
  refreshLock: undefined,
  logger: undefined,
  fetchUser: undefined,
  signRequests: undefined,
  afterLogin: undefined,
  clock: undefined,
});
createWpsAppClient({
  clientId: process.env.WPS_CLIENT_ID,
  clientSecret: process.env.WPS_CLIENT_SECRET,
  baseUrl: maybeString,
  timeoutMs: maybeNumber,
  refreshSkewSeconds: maybeNumber,
  maxResponseBytes: maybeNumber,
  signRequests: undefined,
  clock: undefined,
});
requireWpsToken({ unauthenticated: undefined });
redisRefreshLock(createClient(), { prefix: maybeString, commandTimeoutMs: maybeNumber });
// …but `undefined` is still no value for an option without a default.
// @ts-expect-error the lock is an object with acquire and release
wpsAuth({ refreshLock: null });
