import { randomUUID } from 'node:crypto';
import { systemClock, type WpsClock } from '../clock';
import { ServiceUnavailableError } from '../errors';
import { Outage } from '../outage';
import type { RefreshLock, WpsLogger } from '../types';

/** Options of {@link createMemoryRefreshLock}. */
export interface MemoryRefreshLockOptions {
  /**
   * Where the lock reads the time for its TTLs; give it the same clock as `wpsAuth` in tests.
   * @default systemClock
   */
  clock?: WpsClock | undefined;
}

/**
 * The default {@link RefreshLock}: serializes refreshes within this process only. Enough for a single instance;
 * several instances sharing sessions need `redisRefreshLock(client)`.
 */
export function createMemoryRefreshLock(options: MemoryRefreshLockOptions = {}): RefreshLock {
  const clock = options.clock ?? systemClock;
  const held = new Map<string, { owner: string; expiresAt: number }>();
  return {
    acquire(key, ttlMs) {
      const now = clock.now();
      const current = held.get(key);
      if (current !== undefined && current.expiresAt > now) return Promise.resolve(null);
      const owner = randomUUID();
      held.set(key, { owner, expiresAt: now + ttlMs });
      return Promise.resolve(owner);
    },
    release(key, owner) {
      if (held.get(key)?.owner === owner) held.delete(key);
      return Promise.resolve();
    },
  };
}

/** A held refresh lock. */
export interface Lease {
  key: string;
  owner: string;
}

/** What one try to take a lock found: taken, held by somebody else, or the lock service unavailable. */
export type LockAttempt = { kind: 'taken'; lease: Lease } | { kind: 'held' } | { kind: 'unavailable' };

/**
 * Thrown by a {@link RefreshLock} whose service is unavailable, with a message safe to log: no key (a session id),
 * no URL, no credential. Of any other error, only the name and the `code` (such as `ECONNREFUSED`) are logged.
 */
export class RefreshLockUnavailableError extends ServiceUnavailableError {
  /** Always `'RefreshLockUnavailableError'`. */
  override readonly name = 'RefreshLockUnavailableError';
}

/**
 * The configured {@link RefreshLock} as the refresher and the session guard use it, never rejecting: a failing lock
 * service makes an attempt `'unavailable'` (callers then refresh nothing — another instance may be rotating the
 * same refresh token), and the outage is logged once when it starts and once when it ends, never per request.
 * Internal.
 */
export class LockKeeper {
  private readonly outage: Outage;

  constructor(
    private readonly lock: RefreshLock,
    private readonly ttlMs: number,
    log: WpsLogger,
  ) {
    this.outage = new Outage(
      log,
      'refresh lock unavailable; no refresh until it is back (another instance may be rotating the same refresh ' +
        'token): newer stored tokens are adopted, still-valid access tokens served, other requests answered 503',
      'refresh lock available again; refreshing across instances',
    );
  }

  /** Try once to take the lock for `key`, without waiting. */
  async tryAcquire(key: string): Promise<LockAttempt> {
    let owner: string | null;
    try {
      owner = await this.lock.acquire(key, this.ttlMs);
    } catch (err) {
      this.outage.failed(err);
      return { kind: 'unavailable' };
    }
    this.outage.up();
    return owner === null ? { kind: 'held' } : { kind: 'taken', lease: { key, owner } };
  }

  /** Release a lease. Never rejects: an unreleased lock expires by its TTL. */
  async release(lease: Lease): Promise<void> {
    try {
      await this.lock.release(lease.key, lease.owner);
    } catch (err) {
      this.outage.failed(err);
    }
  }
}

const POLL_MS = 50;

/** Wait one lock-poll interval: 50–100 ms, jittered so that waiters in different processes do not poll in step. */
export function pollDelay(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, POLL_MS + Math.floor(Math.random() * POLL_MS)));
}

/** How long past the lock's TTL a waiter keeps polling: the longest {@link pollDelay}, twice. */
export const POLL_SLACK_MS = 4 * POLL_MS;
