import Joi from 'joi';
import { systemClock, type WpsClock } from './clock';
import type {
  RefreshLock,
  UnauthenticatedMode,
  WpsAppClientOptions,
  WpsAuthOptions,
  WpsLogger,
  WpsTenants,
} from './types';
import { withEnvDefaults } from './env';
import { silentLogger } from './logger';

/** Everything `wpsAuth` needs, resolved once at factory time. Internal. */
export interface ResolvedConfig {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  /** Path of `redirectUri`: where the callback route listens. */
  callbackPath: string;
  /** Comma-joined scopes. */
  scope: string;
  baseUrl: string;
  authorizeUrl: string;
  loginPath: string | false;
  logoutPath: string | false;
  /** The client sign-in route (its script at this path + `.js`); `false`: both off. */
  clientSignInPath: string | false;
  /** Origins besides `redirectUri`'s whose pages may post codes to the client sign-in route, normalized. */
  trustedOrigins: string[];
  defaultReturnTo: string;
  refreshSkewMs: number;
  timeoutMs: number;
  unauthenticated: UnauthenticatedMode;
  maxResponseBytes: number;
  maxPendingLogins: number;
  /** How long a pending login (its `state`) stays usable: WPS codes live 10 minutes, so do states. */
  stateTtlMs: number;
  /** How long a refresh lock is held at most, should its holder die. */
  lockTtlMs: number;
  /** `undefined`: the in-process default (the refresher creates it). */
  refreshLock: RefreshLock | undefined;
  logger: WpsLogger;
  /** Fetch `/v7/users/current` after the code exchange. */
  fetchUser: boolean;
  /** Sign `req.wps.api` requests with KSO-1. */
  signRequests: boolean;
  afterLogin: WpsAuthOptions['afterLogin'];
  /** Where time comes from: token expiry, state age, lock TTLs. */
  clock: WpsClock;
  /** The `tokenEncryptionKey` entries, validated: the first seals, all open. `undefined`: stored in the clear. */
  tokenKeys: Array<string | Buffer> | undefined;
  /** `wpsTenants()`'s result, for `req.wps.tenant`; `undefined` without. */
  tenants: WpsTenants | undefined;
}

/** The shortest string accepted as an encryption key: it is stretched, not a password, so it must be random. */
const MIN_KEY_CHARS = 32;
const SCOPE_NAME = /^[A-Za-z0-9_.:-]+$/;
const routePath = Joi.alternatives(Joi.string().pattern(/^\/[^?#\s]*$/), Joi.boolean().valid(false)).messages({
  'alternatives.types': '{{#label}} must be a path starting with "/", or false',
  'alternatives.match': '{{#label}} must be a path starting with "/", or false',
});
const ORIGIN_MESSAGE =
  '{{#label}} must be an origin such as "https://portal.example.com": http(s), a host and an optional port, no path';
// What a browser sends as `Origin`: scheme, host, optional port; a trailing "/" is forgiven.
const ORIGIN_FORM = /^https?:\/\/[^/?#@\s\\]+\/?$/i;
const trustedOrigin = Joi.string()
  .custom((value: string, helpers) => {
    if (!ORIGIN_FORM.test(value)) return helpers.error('origin.form');
    try {
      return new URL(value).origin;
    } catch {
      return helpers.error('origin.form');
    }
  })
  .messages({ 'string.base': ORIGIN_MESSAGE, 'string.empty': ORIGIN_MESSAGE, 'origin.form': ORIGIN_MESSAGE });
const SCOPE_MESSAGE = '{{#label}} must be scope names such as kso.user_base.read (an array, or comma-separated)';
const fn = Joi.function();

const KEY_TYPE = '{{#label}} must be a string of at least 32 characters, a 32-byte Buffer, or an array of these';
const encryptionKey = Joi.any()
  .custom((value: unknown, helpers) => {
    if (typeof value === 'string') return value.length >= MIN_KEY_CHARS ? value : helpers.error('key.short');
    if (Buffer.isBuffer(value)) return value.length === 32 ? value : helpers.error('key.bytes');
    return helpers.error('key.type');
  })
  .messages({
    'key.short': `{{#label}} must be at least ${MIN_KEY_CHARS} characters long (a random key, not a password)`,
    'key.bytes': '{{#label}} must be exactly 32 bytes when it is a Buffer',
    'key.type': KEY_TYPE,
  });
export const tokenEncryptionKey = Joi.alternatives().conditional(Joi.array(), {
  then: Joi.array()
    .items(
      encryptionKey.messages({
        'key.type': '{{#label}} must be a string of at least 32 characters or a 32-byte Buffer',
      }),
    )
    .min(1)
    .messages({ 'array.min': '{{#label}} must hold at least one key' }),
  otherwise: encryptionKey,
});

// Rules shared by every factory's schema (wpsAuth, createWpsAppClient, wpsEvents, wpsTenants).
export const clientId = Joi.string().trim().min(1).required().messages({
  'any.required': '{{#label}} is required (or set WPS_CLIENT_ID)',
});
export const clientSecret = Joi.string().min(1).required().messages({
  'any.required': '{{#label}} is required (or set WPS_CLIENT_SECRET)',
  'string.base': '{{#label}} must be a non-empty string',
  'string.empty': '{{#label}} must be a non-empty string',
  'string.min': '{{#label}} must be a non-empty string',
});
export const baseUrl = Joi.string()
  .uri({ scheme: ['http', 'https'] })
  .default('https://openapi.wps.cn')
  .messages({ 'string.uriCustomScheme': '{{#label}} must be an http(s) origin' });
export const refreshSkewSeconds = Joi.number().integer().min(0).max(3600).default(60);
export const timeoutMs = Joi.number().integer().min(1).max(600_000).default(10_000);
export const maxResponseBytes = Joi.number()
  .integer()
  .min(1024)
  .default(1024 * 1024);
export const signRequests = Joi.boolean().default(false);
// Kept as given (no clone): a clock may be a class instance whose now() lives on its prototype.
export const clock = Joi.any()
  .custom((value: unknown, helpers) =>
    typeof value === 'object' && value !== null && typeof (value as { now?: unknown }).now === 'function'
      ? value
      : helpers.error('clock.type'),
  )
  .messages({ 'clock.type': '{{#label}} must be an object with a now() method returning epoch milliseconds' });

// Kept as given (no clone): wpsEvents and wpsAuth must share the very object wpsTenants() returned.
const tenants = Joi.any()
  .custom((value: unknown, helpers) => {
    const t = value as Partial<Record<'clientId' | 'client' | 'status', unknown>> | null;
    const ok =
      typeof t === 'object' &&
      t !== null &&
      typeof t.clientId === 'string' &&
      typeof t.client === 'function' &&
      typeof t.status === 'function';
    return ok ? value : helpers.error('tenants.type');
  })
  .messages({ 'tenants.type': '{{#label}} must be what wpsTenants() returns' });

const schema = Joi.object({
  clientId,
  clientSecret,
  redirectUri: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .required()
    .messages({
      'any.required': '{{#label}} is required (or set WPS_REDIRECT_URI)',
      'string.uri': '{{#label}} must be an absolute http(s) URL registered at WPS',
      'string.uriCustomScheme': '{{#label}} must be an absolute http(s) URL registered at WPS',
    }),
  scope: Joi.alternatives(
    Joi.array().items(Joi.string().trim().pattern(SCOPE_NAME)).min(1),
    Joi.string()
      .trim()
      .pattern(/^[A-Za-z0-9_.:-]+(\s*,\s*[A-Za-z0-9_.:-]+)*$/),
  )
    .default(['kso.user_base.read'])
    .messages({
      'alternatives.types': SCOPE_MESSAGE,
      'alternatives.match': SCOPE_MESSAGE,
      'string.pattern.base': SCOPE_MESSAGE,
      'array.min': SCOPE_MESSAGE,
    }),
  baseUrl,
  loginPath: routePath.default('/auth/wps/login'),
  logoutPath: routePath.default('/auth/wps/logout'),
  clientSignInPath: routePath.default('/auth/wps/client-sign-in'),
  trustedOrigins: Joi.array()
    .items(trustedOrigin)
    .default([])
    .messages({ 'array.base': '{{#label}} must be an array of origins such as ["https://portal.example.com"]' }),
  defaultReturnTo: Joi.string()
    .pattern(/^\/(?![/\\])/)
    .default('/')
    .messages({ 'string.pattern.base': '{{#label}} must be a same-origin path such as "/"' }),
  refreshSkewSeconds,
  timeoutMs,
  unauthenticated: Joi.string().valid('auto', 'redirect', 'error').default('auto'),
  maxResponseBytes,
  maxPendingLogins: Joi.number().integer().min(1).max(100).default(10),
  refreshLock: Joi.object({ acquire: fn.required(), release: fn.required() }).unknown(true),
  logger: Joi.object({ debug: fn.required(), info: fn.required(), warn: fn.required(), error: fn.required() }).unknown(
    true,
  ),
  fetchUser: Joi.boolean(),
  signRequests,
  afterLogin: fn.messages({ 'object.base': '{{#label}} must be a function: (req, login) => user or nothing' }),
  tokenEncryptionKey,
  clock,
  tenants,
});

const appClientSchema = Joi.object({
  clientId,
  clientSecret,
  baseUrl,
  timeoutMs,
  refreshSkewSeconds,
  maxResponseBytes,
  signRequests,
  clock,
});

/** Everything `createWpsAppClient` needs, resolved once. Internal. */
export interface ResolvedAppClientConfig {
  clientId: string;
  clientSecret: string;
  baseUrl: string;
  timeoutMs: number;
  refreshSkewMs: number;
  maxResponseBytes: number;
  signRequests: boolean;
  clock: WpsClock;
}

/** `T` with every key present and no `undefined`: what Joi hands back once defaults are filled in. */
type Filled<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };

/** Validate `input` against a factory's schema; a `TypeError` lists every problem by option name, no value. */
export function validate<T>(joiSchema: Joi.ObjectSchema, input: Record<string, unknown>, what: string): T {
  const result = joiSchema.validate(input, { abortEarly: false, errors: { wrap: { label: false } } });
  const { error } = result;
  const value: unknown = result.value;
  if (error) {
    // One line per problem: a value can break two rules (a fraction below the minimum) that share a message.
    const problems = [...new Set(error.details.map((d) => `  - ${d.message}`))];
    throw new TypeError(`express-wps-oauth: invalid ${what} options:\n${problems.join('\n')}`);
  }
  return value as T;
}

/** `true` for `undefined` or a plain options object (not `null`, an array, a string, a function). */
export function isOptionsObject(options: unknown): boolean {
  return options === undefined || (options !== null && typeof options === 'object' && !Array.isArray(options));
}

/**
 * Validate `createWpsAppClient` options once and fill in every default; throws a `TypeError` like
 * {@link resolveConfig}, never showing an option's value.
 */
export function resolveAppClientConfig(
  options: WpsAppClientOptions | undefined,
  env?: NodeJS.ProcessEnv,
): ResolvedAppClientConfig {
  if (!isOptionsObject(options)) {
    throw new TypeError(
      'express-wps-oauth: createWpsAppClient(options) expects an options object, e.g. createWpsAppClient({ clientId, clientSecret })',
    );
  }
  const input = withEnvDefaults(options, ['clientId', 'clientSecret'], env);
  const v = validate<Filled<Omit<WpsAppClientOptions, 'clock'>> & Pick<WpsAppClientOptions, 'clock'>>(
    appClientSchema,
    input,
    'createWpsAppClient',
  );
  return appClientSettings(v);
}

/** The validated settings of an app-token client as it runs: `baseUrl` without a trailing slash, skew in ms. Internal. */
export function appClientSettings(
  v: Filled<Omit<WpsAppClientOptions, 'clock'>> & Pick<WpsAppClientOptions, 'clock'>,
): ResolvedAppClientConfig {
  return {
    clientId: v.clientId,
    clientSecret: v.clientSecret,
    baseUrl: v.baseUrl.replace(/\/+$/, ''),
    timeoutMs: v.timeoutMs,
    refreshSkewMs: v.refreshSkewSeconds * 1000,
    maxResponseBytes: v.maxResponseBytes,
    signRequests: v.signRequests,
    clock: v.clock ?? systemClock,
  };
}

/** A client sign-in route (or its script) at the path of another route, which routing would hide. */
function clientPathClash(
  clientSignInPath: string | false,
  others: Record<'loginPath' | 'logoutPath' | 'redirectUri', string | false>,
): string | undefined {
  if (clientSignInPath === false) return undefined;
  for (const [name, path] of Object.entries(others)) {
    if (path !== clientSignInPath && path !== `${clientSignInPath}.js`) continue;
    const what = name === 'redirectUri' ? "redirectUri's path" : name;
    return (
      `express-wps-oauth: invalid wpsAuth options:\n  - clientSignInPath clashes with ${what} "${path}": give each ` +
      'route its own path (the script is served at clientSignInPath + ".js")'
    );
  }
  return undefined;
}

/** What the wpsAuth schema hands back: every option with a default filled in, the others as given. */
type Kept = 'refreshLock' | 'logger' | 'fetchUser' | 'afterLogin' | 'tokenEncryptionKey' | 'clock' | 'tenants';
type ValidatedAuthOptions = Filled<Omit<WpsAuthOptions, Kept | 'scope'>> &
  Pick<WpsAuthOptions, Kept> & {
    scope: string | string[];
  };

/** The routes and URLs of `wpsAuth`, from its validated options; a clash of the client route with another throws. */
function resolveRoutes(v: ValidatedAuthOptions) {
  const baseUrl = v.baseUrl.replace(/\/+$/, '');
  const redirect = new URL(v.redirectUri);
  const clash = clientPathClash(v.clientSignInPath, {
    loginPath: v.loginPath,
    logoutPath: v.logoutPath,
    redirectUri: redirect.pathname,
  });
  if (clash !== undefined) throw new TypeError(clash);
  return {
    redirectUri: v.redirectUri,
    callbackPath: redirect.pathname,
    baseUrl,
    authorizeUrl: `${baseUrl}/oauth2/auth`,
    loginPath: v.loginPath,
    logoutPath: v.logoutPath,
    clientSignInPath: v.clientSignInPath,
    trustedOrigins: [...new Set(v.trustedOrigins)],
    defaultReturnTo: v.defaultReturnTo,
  };
}

/**
 * Validate options once and fill in every default. Throws a `TypeError` that lists every problem by option name;
 * the message never contains an option's value.
 */
export function resolveConfig(options: WpsAuthOptions | undefined, env?: NodeJS.ProcessEnv): ResolvedConfig {
  if (!isOptionsObject(options)) {
    throw new TypeError(
      'express-wps-oauth: wpsAuth(options) expects an options object, e.g. wpsAuth({ clientId, clientSecret, redirectUri })',
    );
  }
  const input = withEnvDefaults(options, ['clientId', 'clientSecret', 'redirectUri'], env);
  const v = validate<ValidatedAuthOptions>(schema, input, 'wpsAuth');
  const scopes = (Array.isArray(v.scope) ? v.scope : v.scope.split(',')).map((s) => s.trim());
  const key = v.tokenEncryptionKey;
  return {
    clientId: v.clientId,
    clientSecret: v.clientSecret,
    scope: [...new Set(scopes)].join(','),
    ...resolveRoutes(v),
    refreshSkewMs: v.refreshSkewSeconds * 1000,
    timeoutMs: v.timeoutMs,
    unauthenticated: v.unauthenticated,
    maxResponseBytes: v.maxResponseBytes,
    maxPendingLogins: v.maxPendingLogins,
    stateTtlMs: 10 * 60 * 1000,
    lockTtlMs: v.timeoutMs + 5000,
    refreshLock: v.refreshLock,
    logger: v.logger ?? silentLogger,
    fetchUser: v.fetchUser ?? scopes.includes('kso.user_base.read'),
    signRequests: v.signRequests,
    afterLogin: v.afterLogin,
    tokenKeys: key === undefined ? undefined : Array.isArray(key) ? key : [key],
    clock: v.clock ?? systemClock,
    tenants: v.tenants,
  };
}
