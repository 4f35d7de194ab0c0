import { randomUUID } from 'node:crypto';
import { ownedKeys, RedisUnavailableError, type RedisLockClient } from '../redis/client';
import type { WpsEventDedupe } from './types';

/** Options of {@link redisEventDedupe}. */
export interface RedisEventDedupeOptions {
  /**
   * Prepended to every key (the rest is a hash of the event's signature).
   * @default 'wps-event:'
   */
  prefix?: string | undefined;
  /**
   * How long to wait for Redis to answer one command before treating it as unavailable (then events are
   * remembered within each process only, and this is logged once). Keep it well below `ackTimeoutMs`.
   * @default 1000
   */
  commandTimeoutMs?: number | undefined;
}

/** Thrown by {@link redisEventDedupe} when Redis is not usable, with a message safe to log. Internal. */
export class DedupeUnavailableError extends RedisUnavailableError {
  override readonly name = 'DedupeUnavailableError';
}

/**
 * A {@link WpsEventDedupe} in Redis, for several instances behind one event URL: a re-delivered event runs its
 * handler once across all of them, whichever instance each delivery reaches.
 *
 * Claiming is `SET <prefix><hash of the signature> <random owner> NX PX <2 × maxAgeSeconds>`; forgetting (after
 * a handler failed) deletes the key only if the owner still matches. No event data is stored. Pass a connected
 * client (the one `redisRefreshLock` or `connect-redis` uses will do); a client that is not ready, or a Redis that
 * does not answer within `commandTimeoutMs`, makes `wpsEvents` fall back to in-process dedupe, logged once.
 *
 * @example
 * import { createClient } from 'redis';
 *
 * const redis = createClient({ url: process.env.REDIS_URL });
 * redis.on('error', (err) => console.error('redis', err));
 * await redis.connect();
 * app.post('/wps/events', wpsEvents({ dedupe: redisEventDedupe(redis), on: { ... } }));
 */
export function redisEventDedupe(client: RedisLockClient, options: RedisEventDedupeOptions = {}): WpsEventDedupe {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('express-wps-oauth: redisEventDedupe(client, options) expects an options object');
  }
  const keys = ownedKeys(
    client,
    {
      factory: 'redisEventDedupe',
      what: 'the event dedupe',
      prefix: options.prefix,
      commandTimeoutMs: options.commandTimeoutMs,
      unavailable: DedupeUnavailableError,
    },
    'wps-event:',
  );
  // Marks this dedupe's claims: a release deletes only a key this instance claimed (after a TTL expiry, a key may
  // be another instance's claim of a re-delivery).
  const owner = randomUUID();
  return {
    claim: (key, ttlMs) => keys.take(key, owner, ttlMs),
    release: (key) => keys.release(key, owner),
  };
}
