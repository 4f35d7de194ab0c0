import { randomUUID } from 'node:crypto';
import { RefreshLockUnavailableError } from './refresh-lock';
import type { WpsRedisClient } from '../redis/client';
import { setUpRedisHelper } from '../redis/helper';
import { ownedKeys } from '../redis/owned-keys';
import type { RefreshLock } from '../types';

/** Options of {@link redisRefreshLock}. */
export interface RedisRefreshLockOptions {
  /**
   * Prepended to every lock key (the rest is the session id).
   * @default 'wps-refresh-lock:'
   */
  prefix?: string | undefined;
  /**
   * How long to wait for Redis to answer one command before treating the lock as unavailable (then nothing is
   * refreshed until it is back, and this is logged once). A whole number of ms, 1 to 60000.
   * @default 1000
   */
  commandTimeoutMs?: number | undefined;
}

/**
 * A {@link RefreshLock} in Redis, for several instances that share sessions (e.g. through `connect-redis`): one
 * refresh per session across all of them, so WPS's refresh-token rotation never signs a user out.
 *
 * Takes node-redis 5 or 6 (`createClient()`, `createCluster()`) or ioredis 5 or 6 (`new Redis()`, `new Cluster()`),
 * told apart by what the client offers; anything else is refused here with a `TypeError` saying what it lacks.
 * Acquiring is `SET <prefix><session id> <random owner> PX <ttl> NX`; releasing deletes the key only if the owner
 * still matches (a Lua script), so a holder whose lock expired cannot release somebody else's. Each command touches
 * one key, so on a Cluster each goes to its key's slot: no hash tag is needed. The lock holds no token.
 *
 * Redis unusable: while the client is not ready (not connected yet, reconnecting, closed), commands fail at once
 * without entering its offline queue; a command Redis does not answer within `commandTimeoutMs` (a stalled
 * network; ioredis and Cluster clients keep queued commands) is abandoned. From the first such failure until the
 * first command that succeeds again, nothing is refreshed — another instance may be rotating the same refresh
 * token: newer tokens in the session store are adopted, a still-valid access token is served, and a request whose
 * token has expired gets a 503 `store_unavailable` (its tokens kept). `wpsAuth` logs `refresh lock unavailable`
 * once (an error, with the reason but no key or URL) and `refresh lock available again` once it is back.
 *
 * @example
 * import express from 'express';
 * import { createClient } from 'redis';
 * import { redisRefreshLock, wpsAuth } from 'express-wps-oauth';
 *
 * const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
 * redis.on('error', (err: Error) => console.error('redis', err.message));
 * await redis.connect();
 * express().use(wpsAuth({ refreshLock: redisRefreshLock(redis, { prefix: 'my-app:lock:' }) }));
 * @example
 * import express from 'express';
 * import { Cluster } from 'ioredis';
 * import { redisRefreshLock, wpsAuth } from 'express-wps-oauth';
 *
 * const redis = new Cluster([{ host: '10.0.0.1', port: 6379 }], { lazyConnect: true });
 * redis.on('error', (err: Error) => console.error('redis', err.message));
 * await redis.connect();
 * express().use(wpsAuth({ refreshLock: redisRefreshLock(redis) }));
 */
export function redisRefreshLock(client: WpsRedisClient, options: RedisRefreshLockOptions = {}): RefreshLock {
  const { commands, prefix } = setUpRedisHelper(client, options, {
    factory: 'redisRefreshLock',
    what: 'the refresh lock',
    defaultPrefix: 'wps-refresh-lock:',
    unavailable: RefreshLockUnavailableError,
  });
  const keys = ownedKeys(commands, prefix);
  return {
    async acquire(key, ttlMs) {
      const owner = randomUUID();
      return (await keys.take(key, owner, ttlMs)) ? owner : null;
    },
    release: (key, owner) => keys.release(key, owner),
  };
}
