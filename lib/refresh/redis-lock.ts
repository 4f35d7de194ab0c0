import { randomUUID } from 'node:crypto';
import { RefreshLockUnavailableError } from './refresh-lock';
import { ownedKeys, type RedisLockClient } from '../redis/client';
import type { RefreshLock } from '../types';

export type { RedisLockClient } from '../redis/client';

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
  const keys = ownedKeys(
    client,
    {
      factory: 'redisRefreshLock',
      what: 'the refresh lock',
      prefix: options.prefix,
      commandTimeoutMs: options.commandTimeoutMs,
      unavailable: RefreshLockUnavailableError,
    },
    'wps-refresh-lock:',
  );
  return {
    async acquire(key, ttlMs) {
      const owner = randomUUID();
      return (await keys.take(key, owner, ttlMs)) ? owner : null;
    },
    release: (key, owner) => keys.release(key, owner),
  };
}
