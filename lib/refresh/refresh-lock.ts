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

/** A held refresh lock. `local`: taken from the in-process fallback because the configured lock was down. */
export interface Lease {
  key: string;
  owner: string;
  local: boolean;
}

/**
 * Thrown by a {@link RefreshLock} whose service is unavailable, with a message safe to log: no key (a session id),
 * no URL, no credential. Of any other error, only the name and the `code` (such as `ECONNREFUSED`) are logged.
 */
export class RefreshLockUnavailableError extends ServiceUnavailableError {
  /** Always `'RefreshLockUnavailableError'`. */
  override readonly name = 'RefreshLockUnavailableError';
}

/**
 * The configured {@link RefreshLock} as the refresher and the session guard use it. When the lock service fails,
 * locks come from an in-process fallback instead: this process stays serialized, which beats refusing service.
 * The outage is logged once when it starts and once when it ends, never per request. Internal.
 */
export class LockKeeper {
  private readonly outage: Outage;
  private readonly fallback: RefreshLock;

  constructor(
    private readonly lock: RefreshLock,
    private readonly ttlMs: number,
    private readonly log: WpsLogger,
    clock: WpsClock,
  ) {
    this.fallback = createMemoryRefreshLock({ clock });
    this.outage = new Outage(
      log,
      'refresh lock unavailable; serializing refreshes within this process only until it is back ' +
        '(instances sharing sessions may race meanwhile)',
      'refresh lock available again; serializing refreshes across instances',
    );
  }

  /** Take the lock for `key` without waiting; `null` when somebody else holds it. Never rejects. */
  async tryAcquire(key: string): Promise<Lease | null> {
    let owner: string | null;
    try {
      owner = await this.lock.acquire(key, this.ttlMs);
    } catch (err) {
      this.outage.failed(err);
      const local = await this.fallback.acquire(key, this.ttlMs);
      return local === null ? null : { key, owner: local, local: true };
    }
    this.outage.up();
    return owner === null ? null : { key, owner, local: false };
  }

  /** Release a lease taken by {@link LockKeeper.tryAcquire}. Never rejects: an unreleased lock expires by its TTL. */
  async release(lease: Lease): Promise<void> {
    if (lease.local) return this.fallback.release(lease.key, lease.owner);
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
