import type { RedisCommands } from './commands';

// Delete the key only if this owner still holds it: after a TTL expiry somebody else may hold it now.
const RELEASE_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * Keys held by an owner until they expire or the owner releases them: what the refresh lock and the event dedupe
 * are made of. Each command touches one key (`<prefix><key>`), so it runs on any Cluster slot without a hash tag.
 * Internal.
 */
export interface OwnedKeys {
  /** `SET <prefix>key owner PX ttlMs NX`: `true` when taken. */
  take(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Delete `<prefix>key` only if `owner` still holds it (a Lua compare-and-delete). */
  release(key: string, owner: string): Promise<void>;
}

/** {@link OwnedKeys} under `prefix`, through `commands`. */
export function ownedKeys(commands: RedisCommands, prefix: string): OwnedKeys {
  return {
    take: (key, owner, ttlMs) => commands.setNx(prefix + key, owner, ttlMs),
    async release(key, owner) {
      await commands.evalScript(RELEASE_SCRIPT, [prefix + key], [owner]);
    },
  };
}
