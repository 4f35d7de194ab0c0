import Joi from 'joi';
import { isOptionsObject, validate } from '../config';
import type { ServiceUnavailableError } from '../errors';
import { redisDialect } from './client';
import { redisCommands, type RedisCommands } from './commands';

/** The options every Redis helper takes. */
export interface RedisHelperOptions {
  prefix?: string | undefined;
  commandTimeoutMs?: number | undefined;
}

/** What a Redis helper is: its name in messages, its default prefix, and the error it throws when Redis is unusable. */
export interface RedisHelperSpec {
  /** E.g. `redisRefreshLock`. */
  factory: string;
  /** E.g. `the refresh lock`. */
  what: string;
  defaultPrefix: string;
  unavailable: new (message: string) => ServiceUnavailableError;
}

const TIMEOUT = '{{#label}} must be a whole number of ms from 1 to 60000';

// One schema for the options of every Redis helper. `strict`: a string such as '100' is not a number of ms.
const schema = Joi.object({
  prefix: Joi.string().allow('').messages({ 'string.base': '{{#label}} must be a string' }),
  commandTimeoutMs: Joi.number().strict().integer().min(1).max(60_000).default(1000).messages({
    'number.base': TIMEOUT,
    'number.integer': TIMEOUT,
    'number.min': TIMEOUT,
    'number.max': TIMEOUT,
    'number.infinity': TIMEOUT,
    'number.unsafe': TIMEOUT,
  }),
});

/**
 * Check a Redis helper's client and options once, when the helper is created (a `TypeError` naming the factory
 * and every problem), and give it its commands and key prefix. Internal.
 */
export function setUpRedisHelper(
  client: unknown,
  options: unknown,
  spec: RedisHelperSpec,
): { commands: RedisCommands; prefix: string } {
  const dialect = redisDialect(client, spec.factory);
  if (!isOptionsObject(options)) {
    throw new TypeError(
      `express-wps-oauth: ${spec.factory}(client, options) expects an options object, e.g. ` +
        `${spec.factory}(client, { prefix: 'my-app:' })`,
    );
  }
  const v = validate<{ prefix?: string; commandTimeoutMs: number }>(
    schema,
    (options ?? {}) as Record<string, unknown>,
    spec.factory,
  );
  return {
    commands: redisCommands(dialect, {
      what: spec.what,
      commandTimeoutMs: v.commandTimeoutMs,
      unavailable: spec.unavailable,
    }),
    prefix: v.prefix ?? spec.defaultPrefix,
  };
}
