import { randomUUID } from 'node:crypto';
import type { RefreshLock } from './types';

/**
 * The default {@link RefreshLock}: serializes refreshes within this process only. Enough for a single instance;
 * several instances sharing sessions need `redisRefreshLock(client)`.
 */
export function createMemoryRefreshLock(): RefreshLock {
  const held = new Map<string, { owner: string; expiresAt: number }>();
  return {
    acquire(key, ttlMs) {
      const now = Date.now();
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
