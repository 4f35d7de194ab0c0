import type { WpsClock } from '../clock';
import { timed, untimed } from './timed';
import type { StoredTenantCompany, StoredTenantState, WpsTenantStore } from './types';

interface Entry {
  value: string;
  expiresAt: number;
}

/** Sweep expired entries once every this many writes, so that a long-lived process does not keep dead ones. */
const SWEEP_EVERY = 500;

/** A Map whose entries expire on `clock`. */
class ExpiringMap {
  private readonly entries = new Map<string, Entry>();
  private writes = 0;

  constructor(private readonly clock: WpsClock) {}

  get(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.clock.now()) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: string, ttlMs: number): void {
    if (++this.writes % SWEEP_EVERY === 0) this.sweep();
    this.entries.set(key, { value, expiresAt: this.clock.now() + ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}

/**
 * The default {@link WpsTenantStore}: in this process, on the tenants' clock. Right for one instance only: a ticket
 * WPS pushes to another instance, or a token it fetched, would never reach this one. Internal.
 */
export function createMemoryTenantStore(clock: WpsClock): WpsTenantStore {
  const map = new ExpiringMap(clock);
  const company = (id: string, what: string) => `${what}:${id}`;
  const putNewer = (key: string, time: number, value: string, ttlMs: number): boolean => {
    const current = untimed(map.get(key));
    if (current !== undefined && current.time > time) return false;
    map.set(key, timed(time, value), ttlMs);
    return true;
  };
  return {
    getTicket: () => Promise.resolve(untimed(map.get('ticket'))),
    putTicket: (value, time, ttlMs) => Promise.resolve(putNewer('ticket', time, value, ttlMs)),
    getCompany(id) {
      const stored = untimed(map.get(company(id, 'state')));
      const state: StoredTenantState | undefined = stored && { state: stored.value, time: stored.time };
      const found: StoredTenantCompany = {
        state,
        token: map.get(company(id, 'token')),
        refusal: map.get(company(id, 'refusal')),
      };
      return Promise.resolve(found);
    },
    putState(id, { state, time }, ttlMs) {
      const applied = putNewer(company(id, 'state'), time, state, ttlMs);
      if (applied) {
        map.delete(company(id, 'token'));
        map.delete(company(id, 'refusal'));
      }
      return Promise.resolve(applied);
    },
    putToken: (id, value, ttlMs) => Promise.resolve(map.set(company(id, 'token'), value, ttlMs)),
    dropToken(id, value) {
      if (map.get(company(id, 'token')) === value) map.delete(company(id, 'token'));
      return Promise.resolve();
    },
    putRefusal: (id, value, ttlMs) => Promise.resolve(map.set(company(id, 'refusal'), value, ttlMs)),
    claim(key, owner, ttlMs) {
      if (map.get(`claim:${key}`) !== undefined) return Promise.resolve(false);
      map.set(`claim:${key}`, owner, ttlMs);
      return Promise.resolve(true);
    },
    release(key, owner) {
      if (map.get(`claim:${key}`) === owner) map.delete(`claim:${key}`);
      return Promise.resolve();
    },
  };
}
