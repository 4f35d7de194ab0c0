import { ServiceUnavailableError } from '../errors';

/**
 * The part of a `redis` v5 client (`createClient()` or `createCluster()`, any modules or RESP version) that
 * {@link redisRefreshLock} and `redisEventDedupe` use. Typed structurally so this package never loads `redis` itself.
 */
export interface RedisLockClient {
  /** `SET key value NX PX ttl`. */
  set(
    key: string,
    value: string,
    options: { expiration: { type: 'PX'; value: number }; condition: 'NX' },
  ): Promise<unknown>;
  /** `EVAL script numkeys keys... args...`. */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** `false` while the client is not connected: commands would wait in its offline queue, so callers fail fast. */
  readonly isReady?: boolean;
}

/**
 * Thrown when a Redis-backed helper cannot use Redis right now, with a message safe to log: no key, no URL, no
 * credential. Internal: each helper's own subclass is what callers see.
 */
export class RedisUnavailableError extends ServiceUnavailableError {}

// Delete the key only if this owner still holds it: after a TTL expiry somebody else may hold it now.
const RELEASE_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** The two commands the Redis helpers need, checked for readiness and bounded in time. Internal. */
export interface OwnedKeys {
  /** `SET <prefix>key owner NX PX ttlMs`: `true` when taken. */
  take(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Delete `<prefix>key` only if `owner` still holds it. */
  release(key: string, owner: string): Promise<void>;
}

/** What a Redis helper is: its name in messages, its options, and the error it throws when Redis is unusable. */
export interface RedisHelper {
  /** E.g. `redisRefreshLock`. */
  factory: string;
  /** E.g. `the refresh lock`. */
  what: string;
  prefix: unknown;
  commandTimeoutMs: unknown;
  unavailable: new (message: string) => ServiceUnavailableError;
}

/** Validate a Redis helper's client and options (throwing `TypeError`s that name the factory) and wrap the client. */
export function ownedKeys(client: RedisLockClient, helper: RedisHelper, defaultPrefix: string): OwnedKeys {
  const { factory, what, unavailable } = helper;
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof client.set !== 'function' ||
    typeof client.eval !== 'function'
  ) {
    throw new TypeError(
      `express-wps-oauth: ${factory}(client) expects a node-redis v5 client, e.g. ` +
        `${factory}(createClient({ url: 'redis://127.0.0.1:6379' })) from the 'redis' package`,
    );
  }
  const prefix = helper.prefix ?? defaultPrefix;
  const timeoutOption = helper.commandTimeoutMs ?? 1000;
  if (typeof prefix !== 'string') throw new TypeError(`express-wps-oauth: ${factory} option prefix must be a string`);
  if (
    typeof timeoutOption !== 'number' ||
    !Number.isInteger(timeoutOption) ||
    timeoutOption < 1 ||
    timeoutOption > 60_000
  ) {
    throw new TypeError(
      `express-wps-oauth: ${factory} option commandTimeoutMs must be a whole number of ms, 1 to 60000`,
    );
  }
  const timeoutMs: number = timeoutOption;

  function bounded<T>(command: () => Promise<T>, name: string): Promise<T> {
    if (client.isReady === false) {
      return Promise.reject(
        new unavailable(`the Redis client of ${what} is not ready (not connected or reconnecting)`),
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new unavailable(`Redis did not answer ${what}'s ${name} within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([command(), timeout]).finally(() => clearTimeout(timer));
  }

  return {
    async take(key, owner, ttlMs) {
      // A SET that times out here may still land later: it then holds an orphan key that expires by its TTL.
      const reply = await bounded(
        () => client.set(prefix + key, owner, { expiration: { type: 'PX', value: ttlMs }, condition: 'NX' }),
        'SET NX',
      );
      return reply !== null;
    },
    async release(key, owner) {
      await bounded(() => client.eval(RELEASE_SCRIPT, { keys: [prefix + key], arguments: [owner] }), 'release');
    },
  };
}
