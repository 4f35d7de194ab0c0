import { randomUUID } from 'node:crypto';
import type { WpsClock } from '../clock';
import { ownedKeys, Outage, RedisUnavailableError, type RedisLockClient } from '../redis-client';
import type { WpsLogger } from '../types';
import type { WpsEventDedupe } from './types';

/** How many events the in-process dedupe remembers at most; beyond it, the oldest is forgotten first. */
export const MEMORY_DEDUPE_MAX_EVENTS = 50_000;

/**
 * The default {@link WpsEventDedupe}: in this process, bounded. Every entry lives equally long, so the Map's
 * insertion order is also expiry order: expired entries are dropped from the front, and when full the oldest
 * goes first (`onEvict` is told when it was still live). Internal.
 */
export function createMemoryEventDedupe(
  clock: WpsClock,
  maxEvents = MEMORY_DEDUPE_MAX_EVENTS,
  onEvict: () => void = () => {},
): WpsEventDedupe {
  const seen = new Map<string, number>();
  return {
    claim(key, ttlMs) {
      const now = clock.now();
      const known = seen.get(key);
      if (known !== undefined && known > now) return Promise.resolve(false);
      seen.delete(key);
      for (const [oldest, expiresAt] of seen) {
        if (expiresAt > now && seen.size < maxEvents) break;
        seen.delete(oldest);
        if (expiresAt > now) onEvict();
      }
      seen.set(key, now + ttlMs);
      return Promise.resolve(true);
    },
    release(key) {
      seen.delete(key);
      return Promise.resolve();
    },
  };
}

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

/** A claim, and which store holds it. */
export interface Claim {
  key: string;
  /** `false`: a repeat. */
  first: boolean;
  /** Taken from the in-process fallback because the configured store was down. */
  local: boolean;
}

/**
 * The configured {@link WpsEventDedupe} as the middleware uses it. When the store fails, events are remembered
 * in an in-process fallback instead — this process still drops repeats, which beats refusing events. The outage
 * is logged once when it starts and once when it ends. Internal.
 */
export class DedupeKeeper {
  private readonly outage: Outage;
  private readonly fallback: WpsEventDedupe;

  constructor(
    private readonly store: WpsEventDedupe,
    private readonly ttlMs: number,
    clock: WpsClock,
    private readonly log: WpsLogger,
  ) {
    this.fallback = createMemoryEventDedupe(clock);
    this.outage = new Outage(
      log,
      'event dedupe unavailable; repeats are dropped within this process only until it is back ' +
        '(a re-delivery reaching another instance may run its handler again)',
      'event dedupe available again; repeats are dropped across instances',
    );
  }

  /** Claim `key`. Never rejects. */
  async claim(key: string): Promise<Claim> {
    let first: boolean;
    try {
      first = (await this.store.claim(key, this.ttlMs)) === true;
    } catch (err) {
      this.outage.failed(err);
      return { key, first: await this.fallback.claim(key, this.ttlMs), local: true };
    }
    this.outage.up();
    return { key, first, local: false };
  }

  /** Forget a first claim, so that a re-delivery runs the handler. Never rejects. */
  async release(claim: Claim): Promise<void> {
    if (claim.local) return this.fallback.release(claim.key);
    try {
      await this.store.release(claim.key);
    } catch (err) {
      this.outage.failed(err);
    }
  }
}
