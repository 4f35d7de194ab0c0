import { reasonOf, WpsAuthError } from '../errors';
import { Outage } from '../outage';
import type { WpsLogger } from '../types';
import type { WpsTenantStore } from './types';

/**
 * The configured {@link WpsTenantStore} as the tenants use it: a failure becomes a 503 `store_unavailable` (nothing
 * is asked of WPS without the store: another instance may be doing it), and the outage is logged once when it starts
 * and once when it ends. Internal.
 */
export class StoreKeeper {
  private readonly outage: Outage;

  constructor(
    private readonly store: WpsTenantStore,
    log: WpsLogger,
  ) {
    this.outage = new Outage(
      log,
      'tenant store unavailable; calls for companies fail with store_unavailable, and events that need it are ' +
        'answered 500 (WPS delivers them again), until it is back',
      'tenant store available again',
    );
  }

  /** Run one store operation; rejects with `store_unavailable` when the store fails. */
  async run<T>(operation: (store: WpsTenantStore) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await operation(this.store);
    } catch (err) {
      this.outage.failed(err);
      throw new WpsAuthError(
        'store_unavailable',
        `the tenant store is unavailable (${reasonOf(err)}); nothing was asked of WPS: try again`,
      );
    }
    this.outage.up();
    return result;
  }

  /** Give a claim up. Never rejects: an unreleased claim expires by its TTL. */
  async release(key: string, owner: string): Promise<void> {
    try {
      await this.store.release(key, owner);
    } catch (err) {
      this.outage.failed(err);
    }
  }
}

/** Wait one poll interval: 50–100 ms, jittered so that waiters in different processes do not poll in step. */
export function pollDelay(maxMs = 100): Promise<void> {
  const ms = Math.min(maxMs, 50 + Math.floor(Math.random() * 50));
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
