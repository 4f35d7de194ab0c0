import { createHash } from 'node:crypto';
import type { WpsClock } from '../clock';
import { Outage } from '../outage';
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

/** The dedupe key of a verified event: a hash of its signature (the signature itself is never stored). */
export function dedupeKey(signature: string): string {
  return createHash('sha256').update(signature).digest('base64url');
}

/**
 * The {@link DedupeKeeper} of one `wpsEvents()`: over `store`, or over the in-process default, which warns once
 * when it is full and starts forgetting events early. Internal.
 */
export function createDedupeKeeper(
  store: WpsEventDedupe | undefined,
  ttlMs: number,
  clock: WpsClock,
  log: WpsLogger,
): DedupeKeeper {
  let evictionLogged = false;
  const onEvict = () => {
    if (evictionLogged) return;
    evictionLogged = true;
    log.warn(
      `event dedupe full (${MEMORY_DEDUPE_MAX_EVENTS} events): the oldest are forgotten early, ` +
        'so their re-deliveries may run again; use redisEventDedupe(client) at this rate',
    );
  };
  return new DedupeKeeper(
    store ?? createMemoryEventDedupe(clock, MEMORY_DEDUPE_MAX_EVENTS, onEvict),
    ttlMs,
    clock,
    log,
  );
}
