import { randomUUID } from 'node:crypto';
import { RefreshLockUnavailableError } from './refresh-lock';
import type { RefreshLock } from '../types';

/**
 * The part of a `redis` v5 client (`createClient()` or `createCluster()`, any modules or RESP version) that
 * {@link redisRefreshLock} uses. Typed structurally so this package never loads `redis` itself.
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
  /** `false` while the client is not connected: commands would wait in its offline queue, so the lock fails fast. */
  readonly isReady?: boolean;
}

/** Options of {@link redisRefreshLock}. */
export interface RedisRefreshLockOptions {
  /**
   * Prepended to every lock key (the key is the session id).
   * @default 'wps-refresh-lock:'
   */
  prefix?: string | undefined;
  /**
   * How long to wait for Redis to answer one command before treating the lock as unavailable (then refreshes
   * are serialized within each process only, and this is logged once).
   * @default 1000
   */
  commandTimeoutMs?: number | undefined;
}

// Delete the key only if this owner still holds it: after a TTL expiry somebody else may hold it now.
const RELEASE_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

const BAD_CLIENT =
  'express-wps-oauth: redisRefreshLock(client) expects a node-redis v5 client, e.g. ' +
  "redisRefreshLock(createClient({ url: 'redis://127.0.0.1:6379' })) from the 'redis' package";

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RefreshLockUnavailableError(`Redis did not answer the refresh lock's ${what} within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A {@link RefreshLock} in Redis, for several instances that share sessions (e.g. through `connect-redis`): one
 * refresh per session across all of them, so WPS's refresh-token rotation never signs a user out.
 *
 * Acquiring is `SET <prefix><session id> <random owner> NX PX <ttl>`; releasing deletes the key only if the
 * owner still matches (a Lua script), so a holder whose lock expired cannot release somebody else's. The lock
 * holds no token, only a random owner id. Pass the same client `connect-redis` uses, after `connect()`; a client
 * that is not ready, or a Redis that does not answer within `commandTimeoutMs`, makes refreshes fall back to
 * in-process serialization, logged once.
 *
 * @example
 * import { createClient } from 'redis';
 * import { RedisStore } from 'connect-redis';
 *
 * const redis = createClient({ url: process.env.REDIS_URL });
 * redis.on('error', (err) => console.error('redis', err));
 * await redis.connect();
 * app.use(session({ store: new RedisStore({ client: redis }), secret, resave: false, saveUninitialized: false }));
 * app.use(wpsAuth({ refreshLock: redisRefreshLock(redis) }));
 */
export function redisRefreshLock(client: RedisLockClient, options: RedisRefreshLockOptions = {}): RefreshLock {
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof client.set !== 'function' ||
    typeof client.eval !== 'function'
  ) {
    throw new TypeError(BAD_CLIENT);
  }
  const prefix = options.prefix ?? 'wps-refresh-lock:';
  const timeoutMs = options.commandTimeoutMs ?? 1000;
  if (typeof prefix !== 'string') {
    throw new TypeError('express-wps-oauth: redisRefreshLock option prefix must be a string');
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) {
    throw new TypeError(
      'express-wps-oauth: redisRefreshLock option commandTimeoutMs must be a whole number of ms, 1 to 60000',
    );
  }

  function ready(): void {
    if (client.isReady === false) {
      throw new RefreshLockUnavailableError(
        'the Redis client of the refresh lock is not ready (not connected or reconnecting)',
      );
    }
  }

  return {
    async acquire(key, ttlMs) {
      ready();
      const owner = randomUUID();
      // A SET that times out here may still land later: it then holds an orphan lock that expires by its TTL.
      const reply = await withTimeout(
        client.set(prefix + key, owner, { expiration: { type: 'PX', value: ttlMs }, condition: 'NX' }),
        timeoutMs,
        'SET NX',
      );
      return reply === null ? null : owner;
    },
    async release(key, owner) {
      ready();
      await withTimeout(
        client.eval(RELEASE_SCRIPT, { keys: [prefix + key], arguments: [owner] }),
        timeoutMs,
        'release',
      );
    },
  };
}
