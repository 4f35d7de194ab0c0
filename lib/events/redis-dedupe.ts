import { randomUUID } from 'node:crypto';
import { ServiceUnavailableError } from '../errors';
import type { WpsRedisClient } from '../redis/client';
import { setUpRedisHelper } from '../redis/helper';
import { ownedKeys } from '../redis/owned-keys';
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
   * remembered within each process only, and this is logged once). Keep it well below `ackTimeoutMs`. A whole
   * number of ms, 1 to 60000.
   * @default 1000
   */
  commandTimeoutMs?: number | undefined;
}

/** Thrown by {@link redisEventDedupe} when Redis is not usable, with a message safe to log. Internal. */
export class DedupeUnavailableError extends ServiceUnavailableError {
  override readonly name = 'DedupeUnavailableError';
}

/**
 * A {@link WpsEventDedupe} in Redis, for several instances behind one event URL: a re-delivered event runs its
 * handler once across all of them, whichever instance each delivery reaches.
 *
 * Takes the same clients as `redisRefreshLock`: node-redis 5 or 6 (`createClient()`, `createCluster()`) or ioredis
 * 5 or 6 (`new Redis()`, `new Cluster()`); anything else is refused here with a `TypeError` saying what it lacks.
 * Claiming is `SET <prefix><hash of the signature> <random owner> PX <2 × maxAgeSeconds> NX`; forgetting (after a
 * handler failed) deletes the key only if the owner still matches. Each command touches one key, so on a Cluster
 * each goes to its key's slot: no hash tag is needed. No event data is stored.
 *
 * Redis unusable: while the client is not ready (not connected yet, reconnecting, closed), commands fail at once
 * without entering its offline queue; a command Redis does not answer within `commandTimeoutMs` is abandoned (a
 * late claim that still lands only marks an event this process handled). From the first such failure until the
 * first command that succeeds again, repeats are dropped within each process only: `wpsEvents` logs
 * `event dedupe unavailable` once and `event dedupe available again` once it is back. Events keep being answered.
 *
 * @example
 * import express from 'express';
 * import { Redis } from 'ioredis';
 * import { redisEventDedupe, wpsEvents } from 'express-wps-oauth';
 *
 * const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
 * redis.on('error', (err: Error) => console.error('redis', err.message));
 * await redis.connect();
 * express().post('/wps/events', wpsEvents({ dedupe: redisEventDedupe(redis), on: {} }));
 */
export function redisEventDedupe(client: WpsRedisClient, options: RedisEventDedupeOptions = {}): WpsEventDedupe {
  const { commands, prefix } = setUpRedisHelper(client, options, {
    factory: 'redisEventDedupe',
    what: 'the event dedupe',
    defaultPrefix: 'wps-event:',
    unavailable: DedupeUnavailableError,
  });
  const keys = ownedKeys(commands, prefix);
  // Marks this dedupe's claims: a release deletes only a key this instance claimed (after a TTL expiry, a key may
  // be another instance's claim of a re-delivery).
  const owner = randomUUID();
  return {
    claim: (key, ttlMs) => keys.take(key, owner, ttlMs),
    release: (key) => keys.release(key, owner),
  };
}
