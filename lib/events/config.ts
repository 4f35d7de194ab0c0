import Joi from 'joi';
import { systemClock, type WpsClock } from '../clock';
import { clientId, clientSecret, isOptionsObject, validate } from '../config';
import { withEnvDefaults } from '../env';
import { silentLogger } from '../logger';
import { tenantEventSetup, type TenantEventSetup } from '../tenants/wps-tenants';
import type { WpsLogger } from '../types';
import type { WpsEvent, WpsEventDedupe, WpsEventHandler } from './types';

/** A handler as the middleware calls it: the generic typing is the user's side only. */
export type AnyEventHandler = WpsEventHandler<WpsEvent>;

/**
 * Handlers the library itself runs for a topic, in addition to (and before) the app's own handler: the seam for
 * features that must see certain events whatever the app does (`wpsTenants` stores `kso.app.ticket`). Internal.
 */
export type InternalEventHandlers = ReadonlyMap<string, readonly AnyEventHandler[]>;

/** Everything `wpsEvents` needs, resolved once at factory time. Internal. */
export interface ResolvedEventsConfig {
  clientId: string;
  clientSecret: string;
  /** The app's topic handlers (`on`); a Map, so that a topic such as `constructor` finds nothing it was not given. */
  handlers: Map<string, AnyEventHandler>;
  /** Every handler of each topic, in the order they run: the library's own, then the app's. What dispatch reads. */
  topics: ReadonlyMap<string, readonly AnyEventHandler[]>;
  onEvent: AnyEventHandler | undefined;
  maxAgeMs: number;
  ackTimeoutMs: number;
  maxBodyBytes: number;
  /** How long a handled event is remembered: twice the replay window, which is `maxAgeSeconds` either way. */
  dedupeTtlMs: number;
  /** `undefined`: the in-process default. */
  dedupe: WpsEventDedupe | undefined;
  logger: WpsLogger;
  clock: WpsClock;
}

const fn = Joi.function();
const HANDLER = '{{#label}} must be a function: (event, req) => …';

/** A whole number within bounds, with one message for every way of missing it. */
function whole(min: number, max: number, fallback: number, message: string): Joi.NumberSchema {
  return Joi.number().integer().min(min).max(max).default(fallback).messages({
    'number.base': message,
    'number.integer': message,
    'number.min': message,
    'number.max': message,
    'number.infinity': message,
    'number.unsafe': message,
  });
}

/** An object with these methods; every problem says what the object needs. */
function methods(names: string[], needs: string): Joi.ObjectSchema {
  const method = fn.required().messages({
    'any.required': `{{#label}} is missing (${needs})`,
    'object.base': `{{#label}} must be a function (${needs})`,
    'function.base': `{{#label}} must be a function (${needs})`,
  });
  const keys = Object.fromEntries(names.map((name) => [name, method]));
  return Joi.object(keys)
    .unknown(true)
    .messages({ 'object.base': `{{#label}} must be an object (${needs})` });
}

const schema = Joi.object({
  clientId,
  clientSecret,
  on: Joi.object()
    .pattern(/^[^:]+$/, fn.messages({ 'object.base': HANDLER, 'function.base': HANDLER }))
    .messages({
      'object.base': '{{#label}} must be an object of handlers by topic name, such as kso.app_chat.message',
      'object.unknown': '{{#label}} is not a topic name (WPS topics contain no ":")',
    }),
  onEvent: fn.messages({ 'object.base': HANDLER, 'function.base': HANDLER }),
  maxAgeSeconds: whole(1, 86_400, 300, '{{#label}} must be a whole number of seconds from 1 to 86400'),
  ackTimeoutMs: whole(1, 3000, 2500, '{{#label}} must be a whole number of ms from 1 to 3000 (WPS waits 3 s)'),
  maxBodyBytes: whole(
    1024,
    64 * 1024 * 1024,
    1024 * 1024,
    '{{#label}} must be a whole number of bytes from 1024 to 67108864',
  ),
  dedupe: methods(
    ['claim', 'release'],
    'dedupe needs claim(key, ttlMs) and release(key), e.g. redisEventDedupe(client)',
  ),
  logger: methods(
    ['debug', 'info', 'warn', 'error'],
    'a logger needs debug, info, warn and error; pino, winston and console fit',
  ),
  clock: methods(['now'], 'a clock needs now() returning epoch ms, e.g. systemClock or createTestClock()'),
  // Kept as given (no clone): its handlers are found by identity.
  tenants: Joi.any()
    .custom((value: unknown, helpers) => (tenantEventSetup(value) ? value : helpers.error('tenants.type')))
    .messages({ 'tenants.type': '{{#label}} must be what wpsTenants() returns' }),
});

interface Validated {
  clientId: string;
  clientSecret: string;
  on: Record<string, AnyEventHandler | undefined> | undefined;
  onEvent: AnyEventHandler | undefined;
  maxAgeSeconds: number;
  ackTimeoutMs: number;
  maxBodyBytes: number;
  dedupe: WpsEventDedupe | undefined;
  logger: WpsLogger | undefined;
  clock: WpsClock | undefined;
  tenants: object | undefined;
}

/** The library's handlers of each topic, then the app's one. */
function topicHandlers(
  internal: InternalEventHandlers,
  own: Map<string, AnyEventHandler>,
): Map<string, AnyEventHandler[]> {
  const topics = new Map<string, AnyEventHandler[]>();
  for (const [topic, handlers] of internal) topics.set(topic, [...handlers]);
  for (const [topic, handler] of own) topics.set(topic, [...(topics.get(topic) ?? []), handler]);
  return topics;
}

/** The tenants' handlers before the library's other ones; a `TypeError` when they are another app's. */
function withTenants(internal: InternalEventHandlers, tenants: TenantEventSetup | undefined, clientId: string) {
  if (tenants === undefined) return internal;
  if (tenants.clientId !== clientId) {
    throw new TypeError(
      'express-wps-oauth: invalid wpsEvents options:\n  - tenants belongs to another app: give wpsTenants() and ' +
        'wpsEvents() the same clientId (APPID)',
    );
  }
  const merged = new Map<string, AnyEventHandler[]>();
  for (const map of [tenants.handlers, internal]) {
    for (const [topic, handlers] of map) merged.set(topic, [...(merged.get(topic) ?? []), ...handlers]);
  }
  return merged;
}

/**
 * Validate `wpsEvents` options once and fill in every default. Throws a `TypeError` that lists every problem by
 * option name; the message never contains an option's value. `internal`: handlers the library adds (see
 * {@link InternalEventHandlers}).
 */
export function resolveEventsConfig(
  options: unknown,
  env?: NodeJS.ProcessEnv,
  internal: InternalEventHandlers = new Map(),
): ResolvedEventsConfig {
  if (!isOptionsObject(options)) {
    throw new TypeError(
      "express-wps-oauth: wpsEvents(options) expects an options object, e.g. wpsEvents({ on: { 'kso.app_chat.message': handler } })",
    );
  }
  const input = withEnvDefaults(options as object | undefined, ['clientId', 'clientSecret'], env);
  const v = validate<Validated>(schema, input, 'wpsEvents');
  // A topic given `undefined` in `on` (allowed, for exactOptionalPropertyTypes users) has no handler.
  const handlers = new Map(
    Object.entries(v.on ?? {}).filter((entry): entry is [string, AnyEventHandler] => entry[1] !== undefined),
  );
  const tenants = tenantEventSetup(v.tenants);
  return {
    clientId: v.clientId,
    clientSecret: v.clientSecret,
    handlers,
    topics: topicHandlers(withTenants(internal, tenants, v.clientId), handlers),
    onEvent: v.onEvent,
    maxAgeMs: v.maxAgeSeconds * 1000,
    ackTimeoutMs: v.ackTimeoutMs,
    maxBodyBytes: v.maxBodyBytes,
    dedupeTtlMs: 2 * v.maxAgeSeconds * 1000,
    dedupe: v.dedupe ?? tenants?.dedupe,
    logger: v.logger ?? silentLogger,
    clock: v.clock ?? systemClock,
  };
}
