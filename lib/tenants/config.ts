import Joi from 'joi';
import {
  appClientSettings,
  baseUrl,
  clientId,
  clientSecret,
  clock,
  isOptionsObject,
  type ResolvedAppClientConfig,
  refreshSkewSeconds,
  signRequests,
  timeoutMs,
  tokenEncryptionKey,
  validate,
} from '../config';
import { withEnvDefaults } from '../env';
import { silentLogger } from '../logger';
import type { WpsLogger } from '../types';
import type { WpsTenantHook, WpsTenantsOptions, WpsTenantStore } from './types';

/** The four install-state hooks, by the state they follow. */
export interface TenantHooks {
  installed: WpsTenantHook | undefined;
  uninstalled: WpsTenantHook | undefined;
  enabled: WpsTenantHook | undefined;
  disabled: WpsTenantHook | undefined;
}

/** Everything `wpsTenants` needs, resolved once at factory time: the app client's settings and its own. Internal. */
export interface ResolvedTenantsConfig extends ResolvedAppClientConfig {
  ticketWaitMs: number;
  /** `undefined`: the in-process default. */
  store: WpsTenantStore | undefined;
  /** The `tokenEncryptionKey` entries: the first seals, all open. `undefined`: stored as they are. */
  tokenKeys: Array<string | Buffer> | undefined;
  logger: WpsLogger;
  hooks: TenantHooks;
}

const fn = Joi.function();
const HOOK = '{{#label}} must be a function: (companyId, info) => …';
const hook = fn.messages({ 'object.base': HOOK, 'function.base': HOOK });
const WAIT = '{{#label}} must be a whole number of ms from 1 to 120000';
const STORE_METHODS = [
  'getTicket',
  'putTicket',
  'getCompany',
  'putState',
  'putToken',
  'dropToken',
  'putRefusal',
  'claim',
  'release',
];

// Kept as given (no clone): a store may be a class instance whose methods live on its prototype.
const store = Joi.any()
  .custom((value: unknown, helpers) => {
    const s = value as Record<string, unknown> | null;
    const ok = typeof s === 'object' && s !== null && STORE_METHODS.every((name) => typeof s[name] === 'function');
    return ok ? value : helpers.error('store.type');
  })
  .messages({ 'store.type': '{{#label}} must be a tenant store, such as redisTenantStore(client)' });

const schema = Joi.object({
  clientId,
  clientSecret,
  baseUrl,
  store,
  ticketWaitMs: Joi.number().integer().min(1).max(120_000).default(10_000).messages({
    'number.base': WAIT,
    'number.integer': WAIT,
    'number.min': WAIT,
    'number.max': WAIT,
    'number.infinity': WAIT,
  }),
  refreshSkewSeconds,
  timeoutMs,
  tokenEncryptionKey,
  signRequests,
  logger: Joi.object({ debug: fn.required(), info: fn.required(), warn: fn.required(), error: fn.required() })
    .unknown(true)
    .messages({ 'object.base': '{{#label}} must have debug, info, warn and error; pino, winston and console fit' }),
  clock,
  onInstall: hook,
  onUninstall: hook,
  onEnable: hook,
  onDisable: hook,
});

/** The options once validated: every default filled in. */
type Validated = Omit<WpsTenantsOptions, 'clientId' | 'clientSecret' | 'baseUrl' | 'signRequests' | 'ticketWaitMs'> & {
  clientId: string;
  clientSecret: string;
  baseUrl: string;
  signRequests: boolean;
  ticketWaitMs: number;
  refreshSkewSeconds: number;
  timeoutMs: number;
};

/**
 * Validate `wpsTenants` options once and fill in every default. Throws a `TypeError` that lists every problem by
 * option name; the message never contains an option's value.
 */
export function resolveTenantsConfig(options: unknown, env?: NodeJS.ProcessEnv): ResolvedTenantsConfig {
  if (!isOptionsObject(options)) {
    throw new TypeError(
      'express-wps-oauth: wpsTenants(options) expects an options object, e.g. wpsTenants({ store: redisTenantStore(redis) })',
    );
  }
  const input = withEnvDefaults(options as object | undefined, ['clientId', 'clientSecret'], env);
  const v = validate<Validated>(schema, input, 'wpsTenants');
  const key = v.tokenEncryptionKey;
  return {
    ...appClientSettings({ ...v, maxResponseBytes: 1024 * 1024 }),
    ticketWaitMs: v.ticketWaitMs,
    store: v.store,
    tokenKeys: key === undefined ? undefined : Array.isArray(key) ? key : [key],
    logger: v.logger ?? silentLogger,
    hooks: { installed: v.onInstall, uninstalled: v.onUninstall, enabled: v.onEnable, disabled: v.onDisable },
  };
}
