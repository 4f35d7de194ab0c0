import { randomUUID } from 'node:crypto';
import type { WpsClock } from '../clock';
import type { RedisLockClient } from '../refresh/redis-lock';
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
export class DedupeUnavailableError extends Error {
  override readonly name = 'DedupeUnavailableError';
}

// Forget the key only if this dedupe claimed it.
const RELEASE_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

const BAD_CLIENT =
  'express-wps-oauth: redisEventDedupe(client) expects a node-redis v5 client, e.g. ' +
  "redisEventDedupe(createClient({ url: 'redis://127.0.0.1:6379' })) from the 'redis' package";

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DedupeUnavailableError(`Redis did not answer ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
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
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof client.set !== 'function' ||
    typeof client.eval !== 'function'
  ) {
    throw new TypeError(BAD_CLIENT);
  }
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('express-wps-oauth: redisEventDedupe(client, options) expects an options object');
  }
  const prefix = options.prefix ?? 'wps-event:';
  const timeoutMs = options.commandTimeoutMs ?? 1000;
  if (typeof prefix !== 'string') {
    throw new TypeError('express-wps-oauth: redisEventDedupe option prefix must be a string');
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) {
    throw new TypeError(
      'express-wps-oauth: redisEventDedupe option commandTimeoutMs must be a whole number of ms, 1 to 60000',
    );
  }
  // Marks this dedupe's claims: a release deletes only a key this instance claimed (after a TTL expiry, a key may
  // be another instance's claim of a re-delivery).
  const owner = randomUUID();

  function ready(): void {
    if (client.isReady === false) {
      throw new DedupeUnavailableError('the Redis client of the event dedupe is not ready (not connected)');
    }
  }

  return {
    async claim(key, ttlMs) {
      ready();
      const reply = await withTimeout(
        client.set(prefix + key, owner, { expiration: { type: 'PX', value: ttlMs }, condition: 'NX' }),
        timeoutMs,
        'SET NX',
      );
      return reply !== null;
    },
    async release(key) {
      ready();
      await withTimeout(client.eval(RELEASE_SCRIPT, { keys: [prefix + key], arguments: [owner] }), timeoutMs, 'DEL');
    },
  };
}

/** A failure as a log line may show it: an error's name and `code` (such as `ECONNREFUSED`), never its message. */
export function reasonOf(err: unknown): string {
  if (err instanceof DedupeUnavailableError) return err.message;
  const name = err instanceof Error ? err.name : typeof err;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,39}$/.test(code) ? `${name} ${code}` : name;
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
  private down = false;
  private readonly fallback: WpsEventDedupe;

  constructor(
    private readonly store: WpsEventDedupe,
    private readonly ttlMs: number,
    clock: WpsClock,
    private readonly log: WpsLogger,
  ) {
    this.fallback = createMemoryEventDedupe(clock);
  }

  /** Claim `key`. Never rejects. */
  async claim(key: string): Promise<Claim> {
    let first: boolean;
    try {
      first = (await this.store.claim(key, this.ttlMs)) === true;
    } catch (err) {
      this.failed(err);
      return { key, first: await this.fallback.claim(key, this.ttlMs), local: true };
    }
    if (this.down) {
      this.down = false;
      this.log.info('event dedupe available again; repeats are dropped across instances');
    }
    return { key, first, local: false };
  }

  /** Forget a first claim, so that a re-delivery runs the handler. Never rejects. */
  async release(claim: Claim): Promise<void> {
    if (claim.local) return this.fallback.release(claim.key);
    try {
      await this.store.release(claim.key);
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    if (this.down) return;
    this.down = true;
    this.log.error(
      'event dedupe unavailable; repeats are dropped within this process only until it is back ' +
        '(a re-delivery reaching another instance may run its handler again)',
      { reason: reasonOf(err) },
    );
  }
}
